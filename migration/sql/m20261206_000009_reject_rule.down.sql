DROP FUNCTION reject_rule(text);
