-- The ledger outside the database (issue 32). lethe.ledger_state says which ledger records this database has
-- applied: its instance (the ledger directory it writes), the last record's position and mac. Every erasure, shred,
-- retention change and hold release advances it in its own transaction, after the record is on disk; a physical or
-- point-in-time restore rolls it back with everything else, which is how the worker notices one.
CREATE TABLE lethe.ledger_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    instance  uuid NOT NULL DEFAULT gen_random_uuid(),
    position  bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
    head      text NOT NULL DEFAULT repeat('0', 64),
    advanced_at timestamptz
);
INSERT INTO lethe.ledger_state DEFAULT VALUES;

-- Moves the position one record on, and only one: a writer that read a stale position fails here.
CREATE FUNCTION lethe.ledger_advance(p_position bigint, p_head text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_head !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'refused: % is not a ledger record mac', p_head USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE lethe.ledger_state SET position = p_position, head = p_head, advanced_at = now() WHERE position = p_position - 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'refused: the ledger position is not % (another run advanced it, or the database is not in step with its ledger)', p_position - 1
            USING ERRCODE = 'serialization_failure';
    END IF;
END
$$;

REVOKE ALL ON FUNCTION lethe.ledger_advance(bigint, text) FROM PUBLIC;

-- The settings every SECURITY DEFINER function of Lethe's pins (0017, 0022).
SELECT lethe.pin_definer_settings();
