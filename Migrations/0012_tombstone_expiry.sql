-- A tombstone's phone fingerprint (blind index and keyed HMAC) is only needed while a backup older than the
-- erasure can be restored: at most six months. The purge then removes it, keeping the row ids and the receipt,
-- which is all a later replay needs.
ALTER TABLE lethe.tombstones ALTER COLUMN blind_index DROP NOT NULL, ALTER COLUMN subject_hmac DROP NOT NULL;
