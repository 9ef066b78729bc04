-- TEMPORARY STAND-IN, branch biroles only: the lead writes the real V0011__bi_schemas.sql on
-- main (issue 12, item 1: each tenant's BI schema and its views) and replaces this file with it
-- at the merge. It holds just what V0012__bi_roles.sql and the BI role code rely on:
--   - inlet.tenants.bi_schema, the tenant's BI schema name (here 'tenant_<id>'; the real one is
--     NOT NULL UNIQUE and derived from the tenant's name),
--   - schema inlet_bi, usable by everyone, for the helper functions the views call.
-- Never applied outside this branch's tests: do not ship it.
ALTER TABLE inlet.tenants
    ADD COLUMN bi_schema text UNIQUE GENERATED ALWAYS AS ('tenant_' || id::text) STORED;

CREATE SCHEMA inlet_bi;
GRANT USAGE ON SCHEMA inlet_bi TO PUBLIC;
