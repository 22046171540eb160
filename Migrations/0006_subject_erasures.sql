-- Erasures of data subjects (GDPR art. 17). A tombstone remembers a person without their number: the
-- blind index (to find candidate rows) and a keyed HMAC of the E.164 number under a keyring-derived key
-- (to confirm a candidate once decrypted). A restore replays every tombstone its backup does not hold,
-- so an erased person never comes back. The receipt (rows removed per table) is kept with it.
CREATE TABLE lethe.tombstones (
    id               bigserial PRIMARY KEY,
    erased_at        timestamptz NOT NULL DEFAULT now(),
    request_id       bigint REFERENCES lethe.requests (id),
    blind_index      bytea NOT NULL,
    blind_index_bits integer NOT NULL CHECK (blind_index_bits BETWEEN 8 AND 256),
    subject_hmac     bytea NOT NULL CHECK (length(subject_hmac) = 32),
    rows_removed     jsonb NOT NULL,
    erased_by_db_user text NOT NULL DEFAULT session_user,
    erased_by_os_user text NOT NULL
);
CREATE INDEX tombstones_subject_idx ON lethe.tombstones (subject_hmac);

-- The ids of the rows an erasure removed, per table: a restored backup may hold rows that can no longer be
-- found through the blind index (delivery reports whose messages are not backed up).
CREATE TABLE lethe.tombstone_rows (
    tombstone_id bigint NOT NULL REFERENCES lethe.tombstones (id) ON DELETE CASCADE,
    table_name   text NOT NULL,
    row_id       bigint NOT NULL,
    PRIMARY KEY (tombstone_id, table_name, row_id)
);
