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

-- Profile traits merged per message. `times` and `traits` are one profile's messages of one
-- transaction, sorted by timestamp. A message older than the profile's last_seen_at only fills
-- keys the profile lacks; a newer one overwrites; among themselves, later messages win. So an old
-- identify replayed beside a newer one never overwrites what the newer (or the stored) one set.
CREATE FUNCTION inlet.merge_profile_traits(
    stored jsonb, stored_last_seen timestamptz, times timestamptz[], traits jsonb[]
) RETURNS jsonb
-- No SET search_path: it would make every call save and restore a setting (one call per
-- profile per transaction); the body names its own aggregate by schema.
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (SELECT inlet.jsonb_merge_agg(t ORDER BY n) FROM unnest(traits, times) WITH ORDINALITY AS m(t, ts, n)
            WHERE ts < stored_last_seen AND jsonb_typeof(t) = 'object')
        || stored
        || (SELECT inlet.jsonb_merge_agg(t ORDER BY n) FROM unnest(traits, times) WITH ORDINALITY AS m(t, ts, n)
            WHERE ts >= stored_last_seen AND jsonb_typeof(t) = 'object')
$$;
