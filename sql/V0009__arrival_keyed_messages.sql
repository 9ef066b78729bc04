-- Exactly once for messages whose timestamp is the arrival time.
--
-- A message's key is (tenant_id, "timestamp", id). When a message has no usable timestamp (none,
-- unparseable, implausible) and no receivedAt, "timestamp" is the time it arrived, so a retried
-- copy would arrive at another time and be stored again under another key. The writer records
-- such messages here, by tenant, table and messageId, in the transaction that stores them; a copy
-- whose messageId is already here is a duplicate. Rows are small; claims older than 30 days are
-- deleted hourly (Segment retries for 4 hours; the window bounds the table).
CREATE TABLE inlet.arrival_keyed_messages (
    tenant_id   bigint      NOT NULL,
    event_table smallint    NOT NULL,
    id          text        NOT NULL,
    "timestamp" timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_table, id)
);
CREATE INDEX arrival_keyed_messages_timestamp_idx ON inlet.arrival_keyed_messages ("timestamp");
