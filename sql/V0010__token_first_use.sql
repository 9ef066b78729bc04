-- The enable flow without breaking a working integration: a token issued by the flow
-- (supersedes_on_first_use) leaves the tenant's earlier tokens working, with no expiry, until
-- Segment first sends with it; from that first use (first_used_at) the earlier tokens get the
-- usual 24 h of grace. An abandoned flow thus never stops the token Segment already has.
--
-- first_used_at is recorded for every token (once, from the token cache in the background,
-- never per request): it also tells an operator whether a token was ever used.
ALTER TABLE inlet.tenant_tokens
    ADD COLUMN first_used_at           timestamptz,
    ADD COLUMN supersedes_on_first_use boolean NOT NULL DEFAULT false;

-- The new audit action: the flow's token was first used and the earlier ones now expire.
-- Old binaries never write it, so they keep working during a rolling deploy.
ALTER TABLE inlet.tenant_audit
    DROP CONSTRAINT tenant_audit_action_check,
    ADD CONSTRAINT tenant_audit_action_check CHECK (action IN (
        'create', 'rotate', 'disable', 'enable', 'enable_flow_started', 'enable_flow_completed',
        'enable_flow_token_used'));
