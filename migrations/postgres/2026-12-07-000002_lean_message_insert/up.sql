-- A message's chat and sender are checked by the writer in the transaction that stores it: it
-- locks the chats' rows and loads (and key-share locks) the senders. The foreign keys checked
-- them again for every row, a third of a batch's insert. Chats are never deleted; an erased
-- account's messages are deleted with it by the erasure itself (actors/src/store/erasure.rs).
ALTER TABLE messages DROP CONSTRAINT messages_chat_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_sender_id_fkey;

-- The full-text index takes new entries into a pending list that the inserting transaction
-- merges once it passes the limit (4 MB by default): a send that does so under steady load
-- waited 150-350 ms. A 256 kB list merges often, in about 20 ms, at the same cost in all.
ALTER INDEX idx_messages_fts SET (gin_pending_list_limit = 256);
