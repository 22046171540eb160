-- Every run of a scheduled job, by the worker or by a one-shot command (as pg_cron's cron.job_run_details):
-- `lethe status` and the metrics file read it, so they tell the truth whoever ran the job. detail holds
-- counts, ids and names only, never a personal value.
CREATE TABLE lethe.job_runs (
    id            bigserial PRIMARY KEY,
    job           text NOT NULL,
    -- The schedule slot a worker ran the job for; NULL for a one-shot command.
    scheduled_for timestamptz,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz,
    outcome       text NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'success', 'failure', 'interrupted')),
    detail        text,
    started_by    text NOT NULL CHECK (started_by IN ('worker', 'command')),
    host          text NOT NULL,
    os_pid        integer NOT NULL,
    -- The server process of the run's connection: a 'running' row whose backend is gone was killed.
    backend_pid   integer NOT NULL DEFAULT pg_backend_pid(),
    db_user       text NOT NULL DEFAULT session_user
);
-- Two workers against one database run each slot once: the second insert for a slot conflicts.
CREATE UNIQUE INDEX job_runs_slot_idx ON lethe.job_runs (job, scheduled_for) WHERE scheduled_for IS NOT NULL;
CREATE INDEX job_runs_job_started_idx ON lethe.job_runs (job, started_at DESC);
