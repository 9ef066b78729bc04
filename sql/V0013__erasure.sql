-- Erasure (issue 12, item 3) and the daily retention job (item 4).
--
-- A delete request (a Segment `delete` message, `inlet tenant erase-user`, or the admin API) is
-- carried out in steps: one step per partition of the six message tables, then events.users,
-- then the quarantine. Each step is one transaction that deletes the user's rows from that one
-- table and appends the table's name to steps_done, so a restart resumes where the last commit
-- left off and a step is never done twice. The message tables have no index on user_id (it would
-- slow every COPY); a step reads the tenant's rows of one month through the primary key instead.
--
-- States: pending (started_at IS NULL), running (started_at set, processed_at NULL), done
-- (processed_at set). anonymous_ids are resolved from the user's identifies when the request
-- starts, and kept: once the identifies are gone they could not be found again.
ALTER TABLE inlet.delete_requests
    ADD COLUMN source        text        NOT NULL DEFAULT 'message'
        CHECK (source IN ('message', 'cli', 'admin-api')),
    ADD COLUMN started_at    timestamptz,
    ADD COLUMN rows_deleted  bigint      NOT NULL DEFAULT 0,
    ADD COLUMN anonymous_ids text[],
    -- The cursor: tables (events.tracks_y2026m12, ..., events.users, inlet.rejected_messages)
    -- whose rows of this user are gone.
    ADD COLUMN steps_done    text[]      NOT NULL DEFAULT '{}',
    -- How many steps the latest pass had to do (partitions come and go), for progress.
    ADD COLUMN steps_total   integer;

-- `inlet deletes list` and the service-table retention read finished requests by time.
CREATE INDEX delete_requests_processed_idx ON inlet.delete_requests (processed_at) WHERE processed_at IS NOT NULL;

-- Whether a quarantined message (raw_message: JSON without credentials as received, possibly
-- not JSON nor UTF-8 at all) belongs to one of user_ids, or to one of anonymous_ids without
-- another user's userId. A message that is not a JSON object is searched for the ids as JSON
-- strings anywhere in its bytes: an erasure errs on the side of removing.
--
-- The exception block writes nothing, so it never assigns a subtransaction id (no subxid
-- overflow however many rows it is called for).
CREATE FUNCTION inlet.quarantined_message_of(raw bytea, user_ids text[], anonymous_ids text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog
AS $$
DECLARE
    message jsonb;
BEGIN
    BEGIN
        message := convert_from(raw, 'UTF8')::jsonb;
    EXCEPTION WHEN others THEN
        message := NULL;
    END;
    IF message IS NULL OR jsonb_typeof(message) <> 'object' THEN
        RETURN EXISTS (
            SELECT 1 FROM unnest(user_ids || anonymous_ids) AS id
            WHERE position(convert_to(to_jsonb(id)::text, 'UTF8') IN raw) > 0);
    END IF;
    RETURN coalesce(message->>'userId' = ANY (user_ids), false)
        OR coalesce(message->>'anonymousId' = ANY (anonymous_ids) AND coalesce(message->>'userId', '') = '', false);
END;
$$;

-- When each daily job (`retention`) last ran: `inlet serve` instances claim a run by moving
-- last_run_at forward, so a day's run happens once however many instances there are.
CREATE TABLE inlet.daily_jobs (
    name        text        PRIMARY KEY,
    last_run_at timestamptz NOT NULL
);
