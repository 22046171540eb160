-- A data key per customer per calendar month (UTC). Values are sealed with random 96-bit nonces, so one key
-- must not seal more than 2^32 values; a customer sending 10M messages a day would pass that in about seven
-- months under a single key, and reaches 0.3e9 in a month under these. Older keys stay for reading, and a shred
-- destroys all of a customer's keys at once.
ALTER TABLE lethe.customer_keys ADD COLUMN period date;
UPDATE lethe.customer_keys SET period = date_trunc('month', created_at AT TIME ZONE 'UTC')::date;
ALTER TABLE lethe.customer_keys ALTER COLUMN period SET NOT NULL;
ALTER TABLE lethe.customer_keys ALTER COLUMN period SET DEFAULT date_trunc('month', now() AT TIME ZONE 'UTC')::date;
DROP INDEX lethe.customer_keys_one_live_per_customer;
CREATE UNIQUE INDEX customer_keys_one_live_per_customer_month ON lethe.customer_keys (customer_id, period) WHERE shredded_at IS NULL;
