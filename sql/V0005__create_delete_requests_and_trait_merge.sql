-- Segment `delete` messages: a request to erase one user's data. Recorded here when received;
-- a background job erases the rows and sets processed_at.
CREATE TABLE inlet.delete_requests (
    tenant_id    bigint      NOT NULL,
    message_id   text        NOT NULL,
    user_id      text        NOT NULL,
    received_at  timestamptz NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX delete_requests_pending_idx ON inlet.delete_requests (requested_at) WHERE processed_at IS NULL;

-- Merges jsonb objects in aggregate order, later keys winning: the traits of several identifies
-- of one user in one batch become one update of events.users.
CREATE AGGREGATE inlet.jsonb_merge_agg(jsonb) (
    SFUNC = jsonb_concat,
    STYPE = jsonb,
    INITCOND = '{}'
);
