-- What a run found or did, as numbers by name (for `lethe inspect`: findings by kind), so the metrics file
-- can be written by any process from the database alone.
ALTER TABLE lethe.job_runs ADD COLUMN counts jsonb;
