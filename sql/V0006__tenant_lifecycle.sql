-- What the tenant lifecycle needs beyond tokens: the enable flow, Segment's settings, an audit
-- trail, and per-tenant traffic so that `inlet tenant show` answers "is my integration working?"
-- without scanning the event tables.
ALTER TABLE inlet.tenants
    ADD COLUMN redirect_url        text,
    ADD COLUMN enable_completed_at timestamptz,
    -- The latest X-Segment-Settings sent by Segment (the partner's custom settings), decoded.
    ADD COLUMN segment_settings    jsonb,
    ADD COLUMN settings_updated_at timestamptz;

-- Who did what to a tenant, and when. actor is 'cli' or 'admin-api'.
CREATE TABLE inlet.tenant_audit (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint      NOT NULL REFERENCES inlet.tenants (id) ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT now(),
    action    text        NOT NULL CHECK (action IN ('create', 'rotate', 'disable', 'enable', 'enable_flow_started', 'enable_flow_completed')),
    actor     text        NOT NULL,
    detail    jsonb
);
CREATE INDEX tenant_audit_tenant_idx ON inlet.tenant_audit (tenant_id, at);

-- Messages stored per tenant and hour, kept by the writers (one upsert per transaction). Each
-- writer connection has its own row (writer = its backend pid), so concurrent writers never wait
-- on each other's row lock; readers sum over writers.
CREATE TABLE inlet.tenant_traffic (
    tenant_id       bigint      NOT NULL,
    hour            timestamptz NOT NULL,
    writer          integer     NOT NULL,
    messages        bigint      NOT NULL,
    last_message_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, hour, writer)
);
