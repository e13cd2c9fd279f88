CREATE FUNCTION reject_rule(reason text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN regexp_replace(
    regexp_replace(
      regexp_replace(
        regexp_replace(reason, '"(?:[^"\\]|\\.)*"', '"…"', 'g'),
        '(?<![0-9])[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?(?![0-9])',
        '<timestamp>', 'g'),
      '(?<![0-9])[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9])', '<date>', 'g'),
    '[0-9]+', 'N', 'g');
