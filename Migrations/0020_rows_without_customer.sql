-- Rows without a customer (a nullable customer column, as gateways keep rows with no account) follow the
-- table's retention. Before, while any legal hold was active, `NOT (customer = ANY (held))` was NULL for them, so
-- no purge ever deleted them: a retention hole. A NULL customer is now never held, and its rows are counted in
-- the run's ledger under customer_id -2 (the key cannot be NULL; -1 marks a whole partition).

CREATE OR REPLACE FUNCTION lethe.purge_delete_rows(p_table text, p_leaf regclass, p_run bigint, p_cutoff timestamptz,
                                        p_customers bigint[] DEFAULT NULL, p_cutoffs timestamptz[] DEFAULT NULL,
                                        p_from tid DEFAULT NULL, p_to tid DEFAULT NULL, p_limit integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
DECLARE
    v_rule  lethe.purge_rules;
    v_floor timestamptz;
    v_held  bigint[];
    v_where text;
    v_count bigint;
BEGIN
    -- Holds are frozen until commit: a `hold add` waits for this batch, and this batch sees every hold placed.
    LOCK TABLE lethe.legal_holds IN SHARE MODE;
    v_rule := lethe.purge_rule_for(p_table, p_leaf);
    v_floor := greatest(now() - interval '6 months', now() - v_rule.retention);
    IF p_cutoff IS NULL OR p_cutoff > v_floor THEN
        RAISE EXCEPTION 'refused: cutoff % for % is younger than its retention allows (%)', p_cutoff, p_table, v_floor
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT coalesce(array_agg(customer_id), '{}') INTO v_held FROM lethe.legal_holds
    WHERE released_at IS NULL AND (until IS NULL OR until > now());
    IF p_customers IS NOT NULL THEN
        IF cardinality(p_customers) <> cardinality(p_cutoffs) THEN
            RAISE EXCEPTION 'p_customers and p_cutoffs differ in length';
        END IF;
        FOR i IN 1 .. cardinality(p_customers) LOOP
            IF p_customers[i] = ANY (v_held) THEN
                RAISE EXCEPTION 'refused: customer % is under legal hold', p_customers[i] USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF p_cutoffs[i] IS NULL OR p_cutoffs[i] > lethe.purge_guard_cutoff(p_table, p_customers[i]) THEN
                RAISE EXCEPTION 'refused: cutoff % for customer % is younger than its retention allows', p_cutoffs[i], p_customers[i]
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
        END LOOP;
        v_where := format('%1$I = ANY ($3) AND %2$I >= $4 AND %2$I < ($5)[array_position($3, %1$I)]',
                          v_rule.customer_column, v_rule.timestamp_column);
    ELSE
        v_where := format('%I < $4', v_rule.timestamp_column);
    END IF;
    v_where := v_where || format(' AND NOT coalesce(%I = ANY ($6), false)', v_rule.customer_column);
    IF p_from IS NOT NULL THEN
        v_where := 'ctid >= $1 AND ctid < $2 AND ' || v_where;
    ELSIF p_limit IS NULL THEN
        RAISE EXCEPTION 'give a block range (p_from, p_to) or p_limit';
    ELSE
        v_where := format('ctid = ANY (ARRAY(SELECT ctid FROM %s WHERE %s LIMIT $7)) AND ', p_leaf, v_where) || v_where;
    END IF;
    EXECUTE format($q$
        WITH deleted AS (DELETE FROM %s WHERE %s RETURNING %I AS customer_id),
        counted AS (SELECT customer_id, count(*) AS n FROM deleted GROUP BY customer_id),
        logged AS (
            INSERT INTO lethe.purge_run_items (run_id, table_name, customer_id, rows_deleted)
            SELECT $8, $9, coalesce(customer_id, -2), n FROM counted
            ON CONFLICT (run_id, table_name, customer_id, partition_name)
            DO UPDATE SET rows_deleted = lethe.purge_run_items.rows_deleted + EXCLUDED.rows_deleted)
        SELECT coalesce(sum(n), 0)::bigint FROM counted $q$, p_leaf, v_where, v_rule.customer_column)
    INTO v_count
    USING p_from, p_to, p_customers, p_cutoff, p_cutoffs, v_held, p_limit, p_run, p_table;
    RETURN v_count;
END
$$;

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
