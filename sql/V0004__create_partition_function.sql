-- inlet.ensure_month_partitions(at): creates the partitions of the six message tables for the
-- UTC month holding `at`, those that do not exist yet, and returns how many it created.
--
-- Idempotent, and safe when called concurrently: creators of the same month are serialised by a
-- transaction-scoped advisory lock, because two sessions racing on CREATE TABLE IF NOT EXISTS
-- can both pass the existence check and one then fails on a catalog unique index.
-- Callers: the server, on start (months ahead) and when a replay brings an older month; this
-- migration, for the current month and the two after it.
--
-- Partitions are named <table>_yYYYYmMM, e.g. events.tracks_y2019m03, and bounded in UTC so the
-- result does not depend on the session's TimeZone.
CREATE FUNCTION inlet.ensure_month_partitions(p_at timestamptz) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
    month_start timestamp := date_trunc('month', p_at AT TIME ZONE 'UTC');
    lower_bound timestamptz := month_start AT TIME ZONE 'UTC';
    upper_bound timestamptz := (month_start + interval '1 month') AT TIME ZONE 'UTC';
    suffix      text := to_char(month_start, '"y"YYYY"m"MM');
    parent      text;
    created     integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(
        hashtext('inlet.ensure_month_partitions'),
        (extract(year FROM month_start) * 12 + extract(month FROM month_start))::integer);
    FOREACH parent IN ARRAY ARRAY['tracks', 'identifies', 'pages', 'screens', 'groups', 'aliases'] LOOP
        IF to_regclass(format('events.%I', parent || '_' || suffix)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE events.%I PARTITION OF events.%I FOR VALUES FROM (%L) TO (%L)',
                parent || '_' || suffix, parent, lower_bound, upper_bound);
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;

SELECT inlet.ensure_month_partitions(now() + make_interval(months => n))
FROM generate_series(0, 2) AS n;
