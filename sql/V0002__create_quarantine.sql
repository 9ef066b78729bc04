-- The quarantine: every message Inlet refused inside an otherwise accepted request, with the
-- reason, kept so that nothing is dropped silently and a tenant can be shown what was wrong.
CREATE TABLE inlet.rejected_messages (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    -- No foreign key: writing a reject must never fail, even while its tenant is being removed.
    tenant_id   bigint      NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    message_id  text,
    reason      text        NOT NULL,
    -- The message exactly as received: it may be neither valid JSON nor valid UTF-8.
    raw_message bytea       NOT NULL,
    PRIMARY KEY (tenant_id, rejected_at, id)
);
