-- Per-customer data keys (DEK), stored only wrapped by a key-encryption key (KEK) from the keyring file,
-- and the ledgers of imports and encryption migrations.
CREATE SEQUENCE lethe.customer_keys_key_id_seq AS bigint;
CREATE TABLE lethe.customer_keys (
    key_id      bigint PRIMARY KEY DEFAULT nextval('lethe.customer_keys_key_id_seq'),  -- named by every envelope
    customer_id bigint NOT NULL,
    kek_id      integer,      -- the keyring KEK version wrapping it; null once shredded
    wrapped     bytea,        -- nonce || AES-256-GCM(KEK, data key) || tag; null once shredded
    created_at  timestamptz NOT NULL DEFAULT now(),
    shredded_at timestamptz,
    shredded_by text,
    CHECK ((shredded_at IS NULL) = (wrapped IS NOT NULL AND kek_id IS NOT NULL))
);
ALTER SEQUENCE lethe.customer_keys_key_id_seq OWNED BY lethe.customer_keys.key_id;
CREATE UNIQUE INDEX customer_keys_one_live_per_customer ON lethe.customer_keys (customer_id) WHERE shredded_at IS NULL;

CREATE TABLE lethe.imports (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    customer_id bigint NOT NULL,
    file_sha256 text NOT NULL,
    rows_read   bigint NOT NULL,
    rows_written bigint NOT NULL,
    rows_refused bigint NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    db_user     text NOT NULL DEFAULT session_user,
    os_user     text NOT NULL
);
