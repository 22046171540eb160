-- `lethe serve` (issue 31): every open and lookup is audited as one audit record per client, customer, route and
-- hour, with counts: lethe.serve_usage holds the counts (moved in the request's own transaction), and the first use
-- of a bucket appends its audit record, so the chain shows every hour a client read a customer's data, never values.
CREATE TABLE lethe.serve_usage (
    hour        timestamptz NOT NULL,
    client      text NOT NULL,
    customer_id bigint NOT NULL,
    route       text NOT NULL CHECK (route IN ('intake', 'seal', 'lookup', 'open')),
    requests    bigint NOT NULL DEFAULT 0,
    rows        bigint NOT NULL DEFAULT 0,
    audit_id    bigint,
    PRIMARY KEY (hour, client, customer_id, route)
);

CREATE FUNCTION lethe.serve_note(p_client text, p_customer bigint, p_route text, p_rows bigint, p_os_user text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_hour  timestamptz := date_trunc('hour', now());
    v_new   boolean;
    v_audit bigint;
BEGIN
    INSERT INTO lethe.serve_usage (hour, client, customer_id, route, requests, rows) VALUES (v_hour, p_client, p_customer, p_route, 1, p_rows)
    ON CONFLICT (hour, client, customer_id, route) DO UPDATE
    SET requests = lethe.serve_usage.requests + 1, rows = lethe.serve_usage.rows + EXCLUDED.rows
    RETURNING (xmax = 0) INTO v_new;
    IF v_new THEN
        v_audit := lethe.audit_append('serve.' || p_route, format('client %s customer %s hour %s', p_client, p_customer, to_char(v_hour, 'YYYY-MM-DD"T"HH24"Z"')),
                                      p_os_user, jsonb_build_object('client', p_client, 'customer_id', p_customer, 'hour', v_hour,
                                                                    'counts_in', 'lethe.serve_usage'));
        UPDATE lethe.serve_usage SET audit_id = v_audit WHERE hour = v_hour AND client = p_client AND customer_id = p_customer AND route = p_route;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION lethe.serve_note(text, bigint, text, bigint, text) FROM PUBLIC;

-- The settings every SECURITY DEFINER function of Lethe's pins (0017, 0022).
SELECT lethe.pin_definer_settings();
