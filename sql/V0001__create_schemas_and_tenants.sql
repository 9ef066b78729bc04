-- Inlet's two schemas and its tenants.
--   events: what BI tools read (Segment warehouse names and columns).
--   inlet:  the service's own tables; BI roles are given no access to it.
-- The migrator creates schema inlet before this file runs (it keeps its history there).
CREATE SCHEMA IF NOT EXISTS inlet;
CREATE SCHEMA events;
REVOKE ALL ON SCHEMA inlet FROM PUBLIC;

CREATE TABLE inlet.tenants (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (name <> ''),
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Tokens are stored only as SHA-256 hashes. A tenant holds several rows while a rotation's
-- grace period runs: the old token gets an expires_at, the new one has none.
CREATE TABLE inlet.tenant_tokens (
    token_sha256 bytea       PRIMARY KEY CHECK (octet_length(token_sha256) = 32),
    tenant_id    bigint      NOT NULL REFERENCES inlet.tenants (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz
);
CREATE INDEX tenant_tokens_tenant_id_idx ON inlet.tenant_tokens (tenant_id);
