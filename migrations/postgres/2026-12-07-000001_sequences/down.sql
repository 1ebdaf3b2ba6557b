UPDATE counters SET value = (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_seq)
  WHERE name = 'change_seq';
UPDATE counters SET value = (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM message_id)
  WHERE name = 'message_id';
DROP SEQUENCE change_seq;
DROP SEQUENCE message_id;
