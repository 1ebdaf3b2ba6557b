-- Change sequence numbers and message ids come from sequences, so writers on several nodes
-- no longer take turns on the `counters` rows (see actors/src/store/tx.rs). Each sequence
-- starts after the value its counter reached.
CREATE SEQUENCE change_seq;
CREATE SEQUENCE message_id;
SELECT setval('change_seq', GREATEST(value, 1), value > 0) FROM counters WHERE name = 'change_seq';
SELECT setval('message_id', GREATEST(value, 1), value > 0) FROM counters WHERE name = 'message_id';
