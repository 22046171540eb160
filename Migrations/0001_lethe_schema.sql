-- Lethe's own bookkeeping lives in the lethe schema; lethe.schema_migrations is created by the migrator.
CREATE SCHEMA IF NOT EXISTS lethe;
COMMENT ON SCHEMA lethe IS 'Lethe retention and GDPR worker: ledgers, overrides, holds, keys, audit';
