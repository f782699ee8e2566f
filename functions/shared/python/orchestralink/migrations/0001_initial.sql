-- OrchestraLink schema, version 1.
--
-- Index choices follow the API's queries (functions/api):
--   * readings: the primary key (machine_id, parameter, ts) is both the
--     idempotency key (a redelivered reading hits ON CONFLICT DO NOTHING) and the
--     index behind "raw readings of one machine and parameter between two times",
--     read as an index range scan in ts order. No other index on readings: each
--     extra one would tax every insert on the hottest table.
--   * latest_readings: one row per machine and parameter, upserted by ingestion,
--     so the fleet overview reads at most machines x parameters rows instead of
--     scanning readings for the newest value.
--   * rollups_minute: the primary key (machine_id, parameter, bucket) serves the
--     series route for intervals of a minute or more (range scan, re-bucketed).
--     It stores sum and count rather than avg so buckets merge exactly.
--   * alerts: a partial unique index allows one open alert per machine and
--     parameter (ingestion upserts against it); (opened_at DESC) serves the alert
--     list, (machine_id, opened_at DESC) a machine's alert history.

CREATE TABLE machines (
    machine_id    text PRIMARY KEY,
    machine_type  text NOT NULL,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    last_sequence bigint
);

-- The catalog (functions/shared/python/orchestralink/catalog.toml) is the source
-- of truth; this table is its copy, refreshed by every migration run, so SQL
-- can join thresholds.
CREATE TABLE parameters (
    machine_type  text NOT NULL,
    name          text NOT NULL,
    unit          text NOT NULL,
    normal_min    double precision,
    normal_max    double precision,
    warning_low   double precision,
    warning_high  double precision,
    critical_low  double precision,
    critical_high double precision,
    PRIMARY KEY (machine_type, name)
);

CREATE TABLE readings (
    machine_id  text NOT NULL REFERENCES machines (machine_id),
    parameter   text NOT NULL,
    ts          timestamptz NOT NULL,
    value       double precision NOT NULL,
    sequence    bigint,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (machine_id, parameter, ts)
);

CREATE TABLE latest_readings (
    machine_id text NOT NULL REFERENCES machines (machine_id),
    parameter  text NOT NULL,
    ts         timestamptz NOT NULL,
    value      double precision NOT NULL,
    status     text NOT NULL CHECK (status IN ('NORMAL', 'WARNING', 'CRITICAL')),
    PRIMARY KEY (machine_id, parameter)
);

CREATE TABLE rollups_minute (
    machine_id text NOT NULL REFERENCES machines (machine_id),
    parameter  text NOT NULL,
    bucket     timestamptz NOT NULL,
    min_value  double precision NOT NULL,
    max_value  double precision NOT NULL,
    sum_value  double precision NOT NULL,
    count      bigint NOT NULL,
    PRIMARY KEY (machine_id, parameter, bucket)
);

CREATE TABLE alerts (
    alert_id        bigserial PRIMARY KEY,
    machine_id      text NOT NULL REFERENCES machines (machine_id),
    parameter       text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('WARNING', 'CRITICAL')),
    value           double precision NOT NULL,
    threshold       double precision NOT NULL,
    opened_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    cleared_at      timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text
);

CREATE UNIQUE INDEX alerts_one_open_per_parameter
    ON alerts (machine_id, parameter) WHERE cleared_at IS NULL;
CREATE INDEX alerts_by_opened ON alerts (opened_at DESC);
CREATE INDEX alerts_by_machine ON alerts (machine_id, opened_at DESC);
