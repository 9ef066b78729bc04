-- A BI schema per tenant, shaped like a Segment warehouse source (Sources/InletServer/BI/).
--
-- Each tenant's schema holds views over the shared events.* tables restricted to its rows:
-- tracks, pages, ..., users, accounts, with context flattened into context_* columns, and one
-- view per track event with its properties as typed columns. Which properties, traits and
-- context fields exist is discovered from the data by `inlet bi refresh` (and by the server,
-- periodically) and kept in the catalog below; the views are generated from it.

-- The schema's name, derived from the tenant's name (`Acme Corp` -> acme_corp) unless given.
ALTER TABLE inlet.tenants
    ADD COLUMN bi_schema       text,
    ADD COLUMN bi_refreshed_at timestamptz;

-- A name that is a plain lowercase identifier (no quoting needed in any BI tool), never one of
-- the database's own schemas.
CREATE FUNCTION inlet.is_reserved_bi_schema(p_name text) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
    SELECT p_name IN ('events', 'inlet', 'inlet_bi', 'public', 'information_schema') OR p_name LIKE 'pg\_%'
$$;

-- The schema name for a tenant called p_name: its slug, made unique with the tenant's id when
-- another tenant or an existing schema already has it.
CREATE FUNCTION inlet.available_bi_schema(p_name text, p_id bigint) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog
AS $$
DECLARE
    slug text := left(trim(BOTH '_' FROM regexp_replace(lower(p_name), '[^a-z0-9]+', '_', 'g')), 40);
BEGIN
    IF slug = '' THEN
        RETURN 'tenant_' || p_id;
    END IF;
    IF slug ~ '^[0-9]' OR inlet.is_reserved_bi_schema(slug) THEN
        slug := 'tenant_' || slug;
    END IF;
    IF EXISTS (SELECT 1 FROM inlet.tenants WHERE bi_schema = slug AND id <> p_id)
        OR (to_regnamespace(slug) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM inlet.tenants WHERE bi_schema = slug AND id = p_id))
    THEN
        slug := slug || '_' || p_id;
    END IF;
    RETURN slug;
END;
$$;

DO $$
DECLARE
    tenant record;
BEGIN
    FOR tenant IN SELECT id, name FROM inlet.tenants ORDER BY id LOOP
        UPDATE inlet.tenants SET bi_schema = inlet.available_bi_schema(tenant.name, tenant.id) WHERE id = tenant.id;
    END LOOP;
END;
$$;

ALTER TABLE inlet.tenants
    ALTER COLUMN bi_schema SET NOT NULL,
    ADD CONSTRAINT tenants_bi_schema_key UNIQUE (bi_schema),
    ADD CONSTRAINT tenants_bi_schema_check
        CHECK (bi_schema ~ '^[a-z_][a-z0-9_]{0,62}$' AND NOT inlet.is_reserved_bi_schema(bi_schema));

-- A tenant created without a schema name gets the derived one (identity values are assigned
-- before BEFORE triggers run, so NEW.id is known).
CREATE FUNCTION inlet.tenants_default_bi_schema() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    IF NEW.bi_schema IS NULL THEN
        NEW.bi_schema := inlet.available_bi_schema(NEW.name, NEW.id);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER tenants_default_bi_schema BEFORE INSERT ON inlet.tenants
    FOR EACH ROW EXECUTE FUNCTION inlet.tenants_default_bi_schema();

-- The functions the views call. Views are security_invoker (row-level security of the reader
-- applies) and a view's functions run with the reader's rights, so they live in a schema every
-- role may use: it holds nothing but these pure functions.
CREATE SCHEMA inlet_bi;
REVOKE CREATE ON SCHEMA inlet_bi FROM PUBLIC;
GRANT USAGE ON SCHEMA inlet_bi TO PUBLIC;

-- A JSON value as a column of each kind; NULL when the value is of another kind, so one odd
-- message never makes a query fail. The SQL ones are inlined by the planner.
CREATE FUNCTION inlet_bi.as_text(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}' WHEN 'null' THEN NULL ELSE v::text END $$;

CREATE FUNCTION inlet_bi.as_number(v jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE jsonb_typeof(v) WHEN 'number' THEN v::numeric END $$;

CREATE FUNCTION inlet_bi.as_boolean(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE jsonb_typeof(v) WHEN 'boolean' THEN v::boolean END $$;

CREATE FUNCTION inlet_bi.as_json(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) <> 'null' THEN v END $$;

-- An ISO 8601 date-time string as a timestamp; without an offset it is UTC (as Segment reads
-- it), whatever the reader's TimeZone. A string that only looks like one (month 13, 30
-- February, 29 February 2023, 24:00) is NULL. One SQL expression, so the planner inlines it:
-- as a function call it cost ~90 µs a value here, inlined ~20 µs (the regular expressions).
-- No exception handler either: plpgsql's starts a subtransaction, which PostgreSQL refuses
-- inside a parallel query, and analysts' queries over large months are planned in parallel.
-- STABLE, not IMMUTABLE, because of the cast to timestamptz (the string is ISO 8601 with its
-- offset by then, so the result does not depend on the session). Discovery uses the same test
-- to tell a timestamp field from a text one.
CREATE FUNCTION inlet_bi.as_timestamp(v jsonb) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'string'
        AND (v #>> '{}') ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?([Zz]|[+-](0\d|1[0-5])(:?[0-5]\d)?)?$'
        AND (v #>> '{}') !~ '^(0000|\d{4}-02-3|\d{4}-(04|06|09|11)-31)'
    THEN CASE
        WHEN (v #>> '{}') ~ '^\d{4}-02-29' AND NOT (left(v #>> '{}', 4)::int % 4 = 0
            AND (left(v #>> '{}', 4)::int % 100 <> 0 OR left(v #>> '{}', 4)::int % 400 = 0)) THEN NULL
        WHEN (v #>> '{}') ~ '([Zz]|[+-]\d\d(:?\d\d)?)$' THEN (v #>> '{}')::timestamptz
        ELSE ((v #>> '{}') || 'Z')::timestamptz
    END END
$$;

-- The catalog of discovered columns. A field's kind is fixed when it is first seen (a view's
-- column never changes type), and `position` only grows: new columns are appended to a view,
-- so CREATE OR REPLACE VIEW keeps working and keeps grants and analysts' dependent views.
CREATE TABLE inlet.bi_fields (
    tenant_id     bigint      NOT NULL REFERENCES inlet.tenants (id) ON DELETE CASCADE,
    relation      text        NOT NULL,   -- the events.* table the field was seen in
    event         text        NOT NULL,   -- tracks properties: the event's slug; '' otherwise
    member        text        NOT NULL CHECK (member IN ('context', 'properties', 'traits')),
    path          text[]      NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('boolean', 'number', 'timestamp', 'text', 'json')),
    position      bigint      GENERATED ALWAYS AS IDENTITY,
    discovered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, relation, event, member, path)
);

-- The track events seen, each of which gets a view.
CREATE TABLE inlet.bi_events (
    tenant_id     bigint      NOT NULL REFERENCES inlet.tenants (id) ON DELETE CASCADE,
    event         text        NOT NULL,
    event_text    text        NOT NULL,   -- as first sent
    position      bigint      GENERATED ALWAYS AS IDENTITY,
    discovered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event)
);

-- How far discovery has read each table: the next scan reads rows loaded from `loaded_from`
-- on (the start of the oldest writing transaction at the last scan, so nothing committed late
-- is skipped).
CREATE TABLE inlet.bi_scans (
    tenant_id   bigint      NOT NULL REFERENCES inlet.tenants (id) ON DELETE CASCADE,
    relation    text        NOT NULL,
    loaded_from timestamptz NOT NULL,
    scanned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, relation)
);

-- The definition each view was last created with: an unchanged view is not replaced (which
-- would wait for its readers' locks).
CREATE TABLE inlet.bi_views (
    tenant_id  bigint      NOT NULL REFERENCES inlet.tenants (id) ON DELETE CASCADE,
    view_name  text        NOT NULL,
    definition text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, view_name)
);

-- Discovery reads only rows loaded since its last scan. loaded_at follows the physical order
-- of a partition (rows are appended as they are loaded), which is what a BRIN index is for: a
-- few pages of index, nearly free to maintain on insert. Pages not yet summarized always match,
-- so autosummarize summarizes each range as soon as inserts move past it (not at the next
-- vacuum). Built on every month (and copied to new months by ensure_month_partitions' LIKE ...
-- INCLUDING ALL).
CREATE INDEX tracks_loaded_at_idx     ON events.tracks     USING brin (loaded_at) WITH (autosummarize = on);
CREATE INDEX identifies_loaded_at_idx ON events.identifies USING brin (loaded_at) WITH (autosummarize = on);
CREATE INDEX pages_loaded_at_idx      ON events.pages      USING brin (loaded_at) WITH (autosummarize = on);
CREATE INDEX screens_loaded_at_idx    ON events.screens    USING brin (loaded_at) WITH (autosummarize = on);
CREATE INDEX groups_loaded_at_idx     ON events.groups     USING brin (loaded_at) WITH (autosummarize = on);
CREATE INDEX aliases_loaded_at_idx    ON events.aliases    USING brin (loaded_at) WITH (autosummarize = on);
