-- Which key-encryption keys wrap this database's data keys: an HMAC of a fixed label under each KEK, never the key.
-- Keyed commands compare the keyring with it and refuse a keyring that does not match (a second `keys init`, a
-- wrong file), instead of sealing new data keys under an unrelated "KEK 1".
CREATE TABLE lethe.kek_fingerprints (
    kek_id      integer PRIMARY KEY,
    fingerprint text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
