-- The register of data-subject requests (GDPR art. 15 access, art. 17 erasure) and their deadlines: one
-- month after receipt, or three with a recorded extension. The reference is the DPO's own (a ticket
-- number), never the person's name or number.
CREATE TABLE lethe.requests (
    id                bigserial PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('access', 'erasure')),
    reference         text NOT NULL CHECK (reference <> ''),
    received_at       timestamptz NOT NULL,
    due_at            timestamptz NOT NULL,
    extension_reason  text,
    extended_at       timestamptz,
    closed_at         timestamptz,
    closed_by         text,
    opened_at         timestamptz NOT NULL DEFAULT now(),
    opened_by_db_user text NOT NULL DEFAULT session_user,
    opened_by_os_user text NOT NULL,
    CHECK ((extended_at IS NULL) = (extension_reason IS NULL))
);
CREATE INDEX requests_open_idx ON lethe.requests (due_at) WHERE closed_at IS NULL;
