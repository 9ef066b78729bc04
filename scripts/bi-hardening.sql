-- Optional hardening of an Inlet database that BI roles log into (README, "BI access").
-- Run once per database, as a superuser (the functions belong to PostgreSQL's bootstrap role):
--
--     psql "$SUPERUSER_DATABASE_URL" -v ON_ERROR_STOP=1 -f scripts/bi-hardening.sql
--
-- PostgreSQL lets every role that can connect take advisory locks and create large objects,
-- whatever its grants, read-only sessions included. A BI role could thus hold the advisory lock
-- inlet.ensure_month_partitions takes (new months would then fail to be created, and their rows
-- answered 503) or the migrator's (deploys would wait, then fail), and could write large objects.
-- This takes those functions away from PUBLIC in this database and gives them back to the role
-- that owns schema inlet (the one Inlet migrates and serves as). Another role that calls
-- inlet.ensure_month_partitions or migrates needs the same grants.
--
-- Idempotent. Not a migration: migrations run as Inlet's role, which cannot change these.
DO $$
DECLARE
    owner    text := (SELECT nspowner::regrole::text FROM pg_catalog.pg_namespace WHERE nspname = 'inlet');
    routines text[] := ARRAY[
        'pg_advisory_lock(bigint)', 'pg_advisory_lock(integer, integer)',
        'pg_advisory_lock_shared(bigint)', 'pg_advisory_lock_shared(integer, integer)',
        'pg_try_advisory_lock(bigint)', 'pg_try_advisory_lock(integer, integer)',
        'pg_try_advisory_lock_shared(bigint)', 'pg_try_advisory_lock_shared(integer, integer)',
        'pg_advisory_xact_lock(bigint)', 'pg_advisory_xact_lock(integer, integer)',
        'pg_advisory_xact_lock_shared(bigint)', 'pg_advisory_xact_lock_shared(integer, integer)',
        'pg_try_advisory_xact_lock(bigint)', 'pg_try_advisory_xact_lock(integer, integer)',
        'pg_try_advisory_xact_lock_shared(bigint)', 'pg_try_advisory_xact_lock_shared(integer, integer)',
        'lo_create(oid)', 'lo_creat(integer)', 'lo_from_bytea(oid, bytea)'];
    routine  text;
BEGIN
    IF owner IS NULL THEN
        RAISE EXCEPTION 'schema inlet is missing: run this in an Inlet database, after migrator up';
    END IF;
    FOREACH routine IN ARRAY routines LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION pg_catalog.%s FROM PUBLIC', routine);
        EXECUTE format('GRANT EXECUTE ON FUNCTION pg_catalog.%s TO %s', routine, owner);
    END LOOP;
END;
$$;
