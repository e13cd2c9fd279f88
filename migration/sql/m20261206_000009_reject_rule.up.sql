-- `reject_rule(reason)`: the rule a rejected line broke, its reason with the values masked, so that
-- the lines rejected by one rule group together. One definition for `pipeline rejects` and the
-- report's chart of rejected lines.
--
-- A quoted value (its own `"` and `\` escaped as `\"`, `\\`) becomes `"…"`; an unquoted timestamp
-- `<timestamp>` and a date `<date>`, so that the shape of the rule stays readable; any other number
-- `N`.

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
