-- Retention overrides, legal holds, the purge ledger and the audit log.

-- A customer's own, shorter retention. The six-month ceiling is enforced three times: when the period is
-- parsed, by the CHECK below (184 days covers the longest six calendar months), and by the purge itself,
-- which never uses a cutoff earlier than now - 6 months.
CREATE TABLE lethe.retention_overrides (
    customer_id    bigint PRIMARY KEY,
    period         text NOT NULL,
    period_interval interval NOT NULL CHECK (period_interval > interval '0' AND period_interval <= interval '184 days'),
    reason         text NOT NULL CHECK (reason <> ''),
    set_by_db_user text NOT NULL DEFAULT session_user,
    set_by_os_user text NOT NULL,
    set_at         timestamptz NOT NULL DEFAULT now()
);

-- Legal holds: a held customer keeps every row while the hold lasts (until released or `until` passes).
CREATE TABLE lethe.legal_holds (
    id                  bigserial PRIMARY KEY,
    customer_id         bigint NOT NULL,
    reason              text NOT NULL CHECK (reason <> ''),
    until               timestamptz,
    placed_by_db_user   text NOT NULL DEFAULT session_user,
    placed_by_os_user   text NOT NULL,
    placed_at           timestamptz NOT NULL DEFAULT now(),
    released_at         timestamptz,
    released_by_db_user text,
    released_by_os_user text
);
CREATE UNIQUE INDEX legal_holds_one_open_per_customer ON lethe.legal_holds (customer_id) WHERE released_at IS NULL;

-- The purge ledger: one row per run, and per table, customer and partition what it removed. Counts are
-- written in the same transaction as each deletion, so they are exact even for a killed run.
CREATE TABLE lethe.purge_runs (
    id             bigserial PRIMARY KEY,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    status         text NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed', 'check_failed')),
    policy_hash    text NOT NULL,
    ceiling_cutoff timestamptz NOT NULL,
    cutoffs        jsonb NOT NULL,
    scope          jsonb NOT NULL DEFAULT '{}',
    db_user        text NOT NULL DEFAULT session_user,
    os_user        text NOT NULL,
    backend_pid    integer NOT NULL DEFAULT pg_backend_pid(),
    check_result   jsonb,
    error          text
);
CREATE INDEX purge_runs_status_idx ON lethe.purge_runs (status) WHERE status = 'running';

CREATE TABLE lethe.purge_run_items (
    run_id             bigint NOT NULL REFERENCES lethe.purge_runs (id),
    table_name         text NOT NULL,
    customer_id        bigint NOT NULL DEFAULT -1,   -- -1: a whole partition, not one customer's rows
    partition_name     text NOT NULL DEFAULT '',
    rows_deleted       bigint NOT NULL DEFAULT 0,
    rows_kept          bigint NOT NULL DEFAULT 0,    -- held rows moved into the rebuilt partition
    partitions_dropped integer NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, table_name, customer_id, partition_name)
);

-- Partitions a run has detached but not yet dropped. Detaching is the only step that locks the parent table,
-- so it is kept short: counting and dropping the detached table happen in a second transaction. A run killed
-- between the two leaves the table here, in schema lethe, and the next run finishes it first.
CREATE TABLE lethe.purge_detached (
    relation       text PRIMARY KEY,
    run_id         bigint NOT NULL REFERENCES lethe.purge_runs (id),
    table_name     text NOT NULL,
    partition_name text NOT NULL,
    rows_kept      bigint NOT NULL DEFAULT 0,
    detached_at    timestamptz NOT NULL DEFAULT now()
);

-- Append-only audit log, hash-chained: each row's hash covers its content and the previous row's hash,
-- so `lethe audit verify` detects an edited, deleted or reordered record.
CREATE TABLE lethe.audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    action    text NOT NULL,
    target    text NOT NULL,
    db_user   text NOT NULL DEFAULT session_user,
    os_user   text NOT NULL,
    details   jsonb NOT NULL DEFAULT '{}',
    prev_hash text NOT NULL,
    hash      text NOT NULL
);

CREATE FUNCTION lethe.audit_digest(prev_hash text, id bigint, at timestamptz, action text, target text,
                                   db_user text, os_user text, details jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT encode(sha256(convert_to(concat_ws(E'\x1f', prev_hash, id::text,
        to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), action, target, db_user, os_user, details::text), 'UTF8')), 'hex')
$$;

-- Appends one record; serialised by a transaction-level advisory lock so the chain never forks.
CREATE FUNCTION lethe.audit_append(p_action text, p_target text, p_os_user text, p_details jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_prev text;
    v_id   bigint;
    v_at   timestamptz := clock_timestamp();
BEGIN
    PERFORM pg_advisory_xact_lock(1279611976, 100);
    SELECT hash INTO v_prev FROM lethe.audit_log ORDER BY id DESC LIMIT 1;
    v_prev := coalesce(v_prev, repeat('0', 64));
    v_id := nextval(pg_get_serial_sequence('lethe.audit_log', 'id'));
    INSERT INTO lethe.audit_log (id, at, action, target, db_user, os_user, details, prev_hash, hash)
    VALUES (v_id, v_at, p_action, p_target, session_user, p_os_user, p_details, v_prev,
            lethe.audit_digest(v_prev, v_id, v_at, p_action, p_target, session_user, p_os_user, p_details));
    RETURN v_id;
END
$$;
