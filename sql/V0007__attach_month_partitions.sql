-- inlet.ensure_month_partitions(at), redefined so that creating a month never stalls anyone.
--
-- V0004 created each partition with CREATE TABLE ... PARTITION OF, which takes an ACCESS
-- EXCLUSIVE lock on the parent: behind an analyst's open transaction reading events.tracks it
-- waits, and every writer's COPY into the parent queues behind it, so every tenant got 503s.
-- Now each month is created as a standalone table (no lock on the parent beyond reading its
-- definition) and then attached, which takes only SHARE UPDATE EXCLUSIVE on the parent: it does
-- not conflict with readers (ACCESS SHARE) nor with writers (ROW EXCLUSIVE). The table is empty,
-- so ATTACH has no rows to check. Callers bound the remaining waits with lock_timeout (another
-- ATTACH, a VACUUM or an index build on the parent).
--
-- Same contract as before: idempotent, safe concurrently (creators of one month are serialised
-- by a transaction-scoped advisory lock), returns how many partitions it created.
CREATE OR REPLACE FUNCTION inlet.ensure_month_partitions(p_at timestamptz) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
    month_start timestamp := date_trunc('month', p_at AT TIME ZONE 'UTC');
    lower_bound timestamptz := month_start AT TIME ZONE 'UTC';
    upper_bound timestamptz := (month_start + interval '1 month') AT TIME ZONE 'UTC';
    suffix      text := to_char(month_start, '"y"YYYY"m"MM');
    parent      text;
    child       text;
    created     integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(
        hashtext('inlet.ensure_month_partitions'),
        (extract(year FROM month_start) * 12 + extract(month FROM month_start))::integer);
    FOREACH parent IN ARRAY ARRAY['tracks', 'identifies', 'pages', 'screens', 'groups', 'aliases'] LOOP
        child := parent || '_' || suffix;
        IF to_regclass(format('events.%I', child)) IS NULL THEN
            -- INCLUDING ALL copies defaults, constraints and the primary key's index, which
            -- ATTACH then adopts as the partition of the parent's key instead of building one.
            EXECUTE format('CREATE TABLE events.%I (LIKE events.%I INCLUDING ALL)', child, parent);
            EXECUTE format(
                'ALTER TABLE events.%I ATTACH PARTITION events.%I FOR VALUES FROM (%L) TO (%L)',
                parent, child, lower_bound, upper_bound);
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;
