-- The six Segment message tables, range-partitioned by month on "timestamp".
--
-- Each primary key is (tenant_id, "timestamp", id): it starts with tenant_id, makes
-- (tenant_id, id, timestamp) unique so a redelivered message is stored once, and is the index
-- for the usual BI query, one tenant over a time range. A partitioned table's unique key must
-- contain the partition column, which "timestamp" is.
--
-- There is no DEFAULT partition: rows in it would block creating their month later. Months are
-- created by inlet.ensure_month_partitions (V0004), on demand and ahead of time.

-- The columns common to the six tables, in one place; dropped at the end of this file.
CREATE TEMPORARY TABLE message_columns (
    tenant_id          bigint      NOT NULL,
    id                 text        NOT NULL,
    anonymous_id       text,
    user_id            text,
    "timestamp"        timestamptz NOT NULL,
    original_timestamp timestamptz,
    sent_at            timestamptz,
    received_at        timestamptz NOT NULL,
    loaded_at          timestamptz NOT NULL DEFAULT now(),
    context            jsonb,
    integrations       jsonb
);

CREATE TABLE events.tracks (
    LIKE message_columns INCLUDING DEFAULTS,
    event              text        NOT NULL,
    event_text         text        NOT NULL,
    properties         jsonb,
    PRIMARY KEY (tenant_id, "timestamp", id)
) PARTITION BY RANGE ("timestamp");

CREATE TABLE events.identifies (
    LIKE message_columns INCLUDING DEFAULTS,
    traits             jsonb,
    PRIMARY KEY (tenant_id, "timestamp", id)
) PARTITION BY RANGE ("timestamp");

CREATE TABLE events.pages (
    LIKE message_columns INCLUDING DEFAULTS,
    name               text,
    category           text,
    properties         jsonb,
    PRIMARY KEY (tenant_id, "timestamp", id)
) PARTITION BY RANGE ("timestamp");

CREATE TABLE events.screens (
    LIKE message_columns INCLUDING DEFAULTS,
    name               text,
    properties         jsonb,
    PRIMARY KEY (tenant_id, "timestamp", id)
) PARTITION BY RANGE ("timestamp");

CREATE TABLE events.groups (
    LIKE message_columns INCLUDING DEFAULTS,
    group_id           text        NOT NULL,
    traits             jsonb,
    PRIMARY KEY (tenant_id, "timestamp", id)
) PARTITION BY RANGE ("timestamp");

CREATE TABLE events.aliases (
    LIKE message_columns INCLUDING DEFAULTS,
    previous_id        text        NOT NULL,
    PRIMARY KEY (tenant_id, "timestamp", id)
) PARTITION BY RANGE ("timestamp");

-- One row per user and per group (account): the latest merged traits and when they were first
-- and last seen, kept current from identifies and groups.
CREATE TABLE events.users (
    tenant_id     bigint      NOT NULL,
    id            text        NOT NULL,
    traits        jsonb       NOT NULL DEFAULT '{}',
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE events.accounts (
    tenant_id     bigint      NOT NULL,
    id            text        NOT NULL,
    traits        jsonb       NOT NULL DEFAULT '{}',
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

DROP TABLE message_columns;
