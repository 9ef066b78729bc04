-- What an operator needs to act on the quarantine (`inlet quarantine list/show/replay`).
--
-- raw_message keeps the message as JSON with credentials removed: for a message refused by
-- validation, its bytes as received (which may be neither valid JSON nor UTF-8); for one the
-- database refused, the message rebuilt from the row Inlet made of it (the request body is not
-- kept past parsing). sqlstate is the database's error code for the latter, NULL for the former.
-- received_at is the request's arrival, so a replay gives the message the same timestamps
-- (and the same primary key) it would have had. arrival_keyed says that the refused row's
-- timestamp was its arrival time: the rebuilt message carries that time as its own timestamp,
-- so the replay must still deduplicate it by messageId (V0009), as its first delivery would have.
ALTER TABLE inlet.rejected_messages
    ADD COLUMN sqlstate      text,
    ADD COLUMN received_at   timestamptz,
    ADD COLUMN message_type  text,
    ADD COLUMN replayed_at   timestamptz,
    ADD COLUMN arrival_keyed boolean NOT NULL DEFAULT false;

CREATE INDEX rejected_messages_id_idx ON inlet.rejected_messages (id);
