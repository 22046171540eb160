-- The DPO's registers change only through these functions, each writing its audit record in the same
-- transaction. Before, `lethe_dpo` held INSERT, UPDATE and DELETE on the registers: by plain SQL it could delete
-- legal holds, tombstones and requests with no audit record, and insert an override whose text read P6M while
-- its interval purged after one second. `roles apply` now grants the DPO EXECUTE on these and no direct write;
-- an override's interval is derived here from its text, never given separately. Settings are pinned below, as
-- for every SECURITY DEFINER function (0017).

-- Holds are frozen until commit for whoever takes this (an erasure): SHARE needs UPDATE on the table otherwise.
CREATE FUNCTION lethe.lock_holds() RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER AS $$
    LOCK TABLE lethe.legal_holds IN SHARE MODE;
$$;

CREATE FUNCTION lethe.hold_place(p_customer bigint, p_reason text, p_until timestamptz, p_os_user text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_reason IS NULL OR btrim(p_reason) = '' THEN
        RAISE EXCEPTION 'a legal hold needs a reason' USING ERRCODE = 'check_violation';
    END IF;
    IF p_until IS NOT NULL AND p_until <= now() THEN
        RAISE EXCEPTION 'the end of a legal hold must be in the future' USING ERRCODE = 'check_violation';
    END IF;
    -- A hold whose `until` has passed is closed at that date before a new one opens.
    UPDATE lethe.legal_holds SET released_at = until, released_by_db_user = 'expired', released_by_os_user = 'expired'
    WHERE customer_id = p_customer AND released_at IS NULL AND until <= now();
    IF EXISTS (SELECT 1 FROM lethe.legal_holds WHERE customer_id = p_customer AND released_at IS NULL) THEN
        RAISE EXCEPTION 'customer % is already under legal hold', p_customer USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO lethe.legal_holds (customer_id, reason, until, placed_by_os_user) VALUES (p_customer, p_reason, p_until, p_os_user)
    RETURNING id INTO v_id;
    PERFORM lethe.audit_append('hold.add', 'customer ' || p_customer, p_os_user, jsonb_build_object(
        'hold_id', v_id, 'reason', p_reason,
        'until', CASE WHEN p_until IS NULL THEN NULL ELSE to_char(p_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END));
    RETURN v_id;
END
$$;

-- The released hold's id; NULL when the customer has no open hold.
CREATE FUNCTION lethe.hold_release(p_customer bigint, p_os_user text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    v_id bigint;
BEGIN
    UPDATE lethe.legal_holds SET released_at = now(), released_by_db_user = session_user, released_by_os_user = p_os_user
    WHERE customer_id = p_customer AND released_at IS NULL RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
        PERFORM lethe.audit_append('hold.release', 'customer ' || p_customer, p_os_user, jsonb_build_object('hold_id', v_id));
    END IF;
    RETURN v_id;
END
$$;

-- The interval is the text's, parsed here (ISO 8601 designators: P30D, P1M15D); the table's CHECK keeps it
-- within the ceiling.
CREATE FUNCTION lethe.retention_set(p_customer bigint, p_period text, p_reason text, p_os_user text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
BEGIN
    IF p_reason IS NULL OR btrim(p_reason) = '' THEN
        RAISE EXCEPTION 'a retention override needs a reason' USING ERRCODE = 'check_violation';
    END IF;
    IF p_period !~ '^P[0-9A-Z]+$' THEN
        RAISE EXCEPTION 'retention period % is not an ISO-8601 duration', p_period USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO lethe.retention_overrides (customer_id, period, period_interval, reason, set_by_os_user)
    VALUES (p_customer, p_period, p_period::interval, p_reason, p_os_user)
    ON CONFLICT (customer_id) DO UPDATE SET period = EXCLUDED.period, period_interval = EXCLUDED.period_interval,
        reason = EXCLUDED.reason, set_by_db_user = session_user, set_by_os_user = EXCLUDED.set_by_os_user, set_at = now();
    PERFORM lethe.audit_append('retention.set', 'customer ' || p_customer, p_os_user, jsonb_build_object('period', p_period, 'reason', p_reason));
END
$$;

CREATE FUNCTION lethe.retention_clear(p_customer bigint, p_os_user text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
BEGIN
    DELETE FROM lethe.retention_overrides WHERE customer_id = p_customer;
    IF NOT FOUND THEN RETURN false; END IF;
    PERFORM lethe.audit_append('retention.clear', 'customer ' || p_customer, p_os_user, '{}'::jsonb);
    RETURN true;
END
$$;

CREATE FUNCTION lethe.request_open(p_kind text, p_reference text, p_received timestamptz, p_os_user text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    v_received timestamptz := coalesce(p_received, now());
    v_id bigint;
BEGIN
    IF p_reference IS NULL OR btrim(p_reference) = '' THEN
        RAISE EXCEPTION 'a request needs a reference' USING ERRCODE = 'check_violation';
    END IF;
    IF v_received > now() + interval '5 minutes' THEN
        RAISE EXCEPTION 'a request cannot be received in the future' USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO lethe.requests (kind, reference, received_at, due_at, opened_by_os_user)
    VALUES (p_kind, p_reference, v_received, v_received + interval '1 month', p_os_user) RETURNING id INTO v_id;
    PERFORM lethe.audit_append('request.open', 'request ' || v_id, p_os_user, jsonb_build_object('kind', p_kind));
    RETURN v_id;
END
$$;

-- Once, to three months after receipt, with a reason (GDPR art. 12(3)).
CREATE FUNCTION lethe.request_extend(p_id bigint, p_reason text, p_os_user text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
BEGIN
    IF p_reason IS NULL OR btrim(p_reason) = '' THEN
        RAISE EXCEPTION 'an extension needs a reason' USING ERRCODE = 'check_violation';
    END IF;
    UPDATE lethe.requests SET due_at = received_at + interval '3 months', extension_reason = p_reason, extended_at = now()
    WHERE id = p_id AND closed_at IS NULL AND extended_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'request % is closed, already extended or missing', p_id USING ERRCODE = 'check_violation';
    END IF;
    PERFORM lethe.audit_append('request.extend', 'request ' || p_id, p_os_user, '{}'::jsonb);
END
$$;

CREATE FUNCTION lethe.request_close(p_id bigint, p_os_user text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    v_overdue boolean;
BEGIN
    UPDATE lethe.requests SET closed_at = now(), closed_by = session_user || '/' || p_os_user
    WHERE id = p_id AND closed_at IS NULL RETURNING closed_at > due_at INTO v_overdue;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'request % is already closed or missing', p_id USING ERRCODE = 'check_violation';
    END IF;
    PERFORM lethe.audit_append('request.close', 'request ' || p_id, p_os_user, jsonb_build_object('overdue', v_overdue));
END
$$;

-- An erasure's tombstone, the ids of the rows it removed (p_rows: {"table": [ids]}) and its audit record.
CREATE FUNCTION lethe.tombstone_record(p_request bigint, p_blind_index bytea, p_bits integer, p_hmac bytea, p_receipt jsonb,
                                       p_rows jsonb, p_audit_rows jsonb, p_os_user text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO lethe.tombstones (request_id, blind_index, blind_index_bits, subject_hmac, rows_removed, erased_by_os_user)
    VALUES (p_request, p_blind_index, p_bits, p_hmac, p_receipt, p_os_user) RETURNING id INTO v_id;
    INSERT INTO lethe.tombstone_rows (tombstone_id, table_name, row_id)
    SELECT v_id, t.key, r.value::bigint FROM jsonb_each(p_rows) t, jsonb_array_elements_text(t.value) r
    ON CONFLICT DO NOTHING;
    PERFORM lethe.audit_append('subject.erase', 'tombstone ' || v_id, p_os_user,
                               jsonb_build_object('request', p_request, 'rows_removed', p_audit_rows));
    RETURN v_id;
END
$$;

-- A customer's data keys destroyed (their blind indexes are nulled by the caller in the same transaction).
CREATE FUNCTION lethe.customer_shred(p_customer bigint, p_blind_indexes_removed bigint, p_os_user text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    v_keys bigint;
BEGIN
    UPDATE lethe.customer_keys SET wrapped = NULL, kek_id = NULL, shredded_at = now(), shredded_by = session_user || '/' || p_os_user
    WHERE customer_id = p_customer AND shredded_at IS NULL;
    GET DIAGNOSTICS v_keys = ROW_COUNT;
    PERFORM lethe.audit_append('customer.shred', 'customer ' || p_customer, p_os_user,
                               jsonb_build_object('keys_destroyed', v_keys, 'blind_indexes_removed', p_blind_indexes_removed));
    RETURN v_keys;
END
$$;

REVOKE ALL ON FUNCTION lethe.lock_holds(), lethe.hold_place(bigint, text, timestamptz, text), lethe.hold_release(bigint, text),
    lethe.retention_set(bigint, text, text, text), lethe.retention_clear(bigint, text),
    lethe.request_open(text, text, timestamptz, text), lethe.request_extend(bigint, text, text), lethe.request_close(bigint, text),
    lethe.tombstone_record(bigint, bytea, integer, bytea, jsonb, jsonb, jsonb, text), lethe.customer_shred(bigint, bigint, text)
    FROM PUBLIC;

-- The same pinned settings as every SECURITY DEFINER function of 0017 (text they format or parse means one thing).
DO $$
DECLARE
    v_function regprocedure;
BEGIN
    FOR v_function IN
        SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = 'lethe'::regnamespace AND p.prosecdef
    LOOP
        EXECUTE format($f$ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC'
                         SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET lc_monetary = 'C' SET lc_numeric = 'C'
                         SET lc_time = 'C' SET extra_float_digits = 1$f$, v_function);
    END LOOP;
END
$$;
