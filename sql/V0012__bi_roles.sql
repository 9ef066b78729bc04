-- Read-only BI access per tenant (issue 12, item 2): `inlet tenant grant-bi ID` creates a login
-- role for the tenant; this migration holds what every such role shares.
--
--   - inlet.bi_roles maps each BI login role to its tenant (the role itself, its password hash
--     and its settings live in PostgreSQL's catalogs; Inlet stores no password).
--   - inlet_bi_reader, a NOLOGIN group every BI role is a member of, may read the eight shared
--     tables of schema events (the parents only: a partition read directly would skip the
--     parent's policies, so partitions, those inlet.ensure_month_partitions creates later
--     included, get no grants).
--   - Row-level security on those eight tables: a restrictive policy for inlet_bi_reader keeps
--     each BI role to its tenant's rows, whether it reads the tables or the views over them
--     (the views are security_invoker, so the policies apply to whoever queries them).
--
-- The tables' owner (the role the server and migrator connect as) bypasses row-level security,
-- so the writers do exactly what they did before. Another role the operator gives rights on
-- these tables keeps them through the permissive policy `everyone` (without it, enabling RLS
-- would silently hide every row from such a role); but COPY FROM, which the writers use, is
-- refused by PostgreSQL for a role that RLS applies to: a service role that is not the owner
-- needs BYPASSRLS or membership in the owning role.

CREATE TABLE inlet.bi_roles (
    role_name  text        PRIMARY KEY,
    tenant_id  bigint      NOT NULL UNIQUE REFERENCES inlet.tenants (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Roles belong to the cluster, not to a database: another Inlet database in the same cluster
-- (tests create many at once) may have created the group already, or may be creating it now.
-- Its grants, policies and mapping are per database, so a BI role of one database that
-- connects to another reads nothing there (it is in no mapping of that database).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'inlet_bi_reader') THEN
        CREATE ROLE inlet_bi_reader NOLOGIN;
    END IF;
EXCEPTION
    -- Two migrations racing: the loser gets one of these two, and the role exists.
    WHEN duplicate_object OR unique_violation THEN NULL;
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'creating role inlet_bi_reader needs CREATEROLE'
            USING HINT = 'as a superuser, run CREATE ROLE inlet_bi_reader NOLOGIN (once per cluster), or ALTER ROLE '
                || quote_ident(current_user) || ' CREATEROLE; then migrate again';
END;
$$;

GRANT USAGE ON SCHEMA events TO inlet_bi_reader;
GRANT SELECT ON events.tracks, events.identifies, events.pages, events.screens, events.groups, events.aliases,
    events.users, events.accounts TO inlet_bi_reader;

-- The tenant a BI role reads. tenant_of_role runs as its owner to read inlet.bi_roles, which BI
-- roles cannot; current_tenant passes it current_user from the caller's side (inside a
-- SECURITY DEFINER function current_user is the owner). A BI role cannot become another BI role:
-- it is a member of inlet_bi_reader only, and that role maps to no tenant.
CREATE FUNCTION inlet_bi.tenant_of_role(p_role name) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog
AS $$ SELECT tenant_id FROM inlet.bi_roles WHERE role_name = p_role::text $$;
REVOKE EXECUTE ON FUNCTION inlet_bi.tenant_of_role(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION inlet_bi.tenant_of_role(name) TO inlet_bi_reader;

-- No SET search_path, so that it can be inlined; every name in it is qualified.
CREATE FUNCTION inlet_bi.current_tenant() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT inlet_bi.tenant_of_role(current_user) $$;

-- The policy compares tenant_id with a scalar subquery, not with the function call itself: the
-- subquery is an InitPlan, computed once per query and usable as an index condition
-- (`Index Cond: (tenant_id = $0)`), where a bare STABLE call in a filter would run per row.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tracks', 'identifies', 'pages', 'screens', 'groups', 'aliases', 'users', 'accounts'] LOOP
        EXECUTE format('ALTER TABLE events.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY everyone ON events.%I AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true)', t);
        EXECUTE format(
            'CREATE POLICY bi_tenant ON events.%I AS RESTRICTIVE FOR ALL TO inlet_bi_reader '
            'USING (tenant_id = (SELECT inlet_bi.current_tenant()))', t);
    END LOOP;
END;
$$;

-- The audit trail records grants and revocations. The actions are added to whatever the
-- constraint allows when this file runs (other migrations may have added theirs), instead of
-- restating the whole list.
DO $$
DECLARE
    allowed text[];
BEGIN
    SELECT array_agg(m[1]) INTO allowed
    FROM pg_catalog.pg_constraint c,
        regexp_matches(pg_catalog.pg_get_constraintdef(c.oid), '''([^'']+)''', 'g') AS m
    WHERE c.conrelid = 'inlet.tenant_audit'::regclass AND c.conname = 'tenant_audit_action_check';
    allowed := allowed || ARRAY['bi_role_granted', 'bi_role_password_reset', 'bi_role_revoked'];
    ALTER TABLE inlet.tenant_audit DROP CONSTRAINT tenant_audit_action_check;
    -- Written as IN (...) again, so the next migration can read the list the same way.
    EXECUTE format(
        'ALTER TABLE inlet.tenant_audit ADD CONSTRAINT tenant_audit_action_check CHECK (action IN (%s))',
        (SELECT string_agg(DISTINCT quote_literal(a), ', ') FROM unnest(allowed) AS a));
END;
$$;
