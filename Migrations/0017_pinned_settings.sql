-- Hostile session settings. A SECURITY DEFINER function runs with its caller's settings unless it pins them, and
-- text that PostgreSQL formats or parses follows DateStyle, IntervalStyle and TimeZone: as a worker login,
-- `SET DateStyle = 'German, MDY'` made the guarded drop (0015/0016) read a partition's upper bound of 3 December
-- back as 12 March, and drop today's partition. Two defences, each sufficient:
-- 1. every SECURITY DEFINER function in schema lethe pins the settings that change what text means (below,
--    over the catalog, so none is forgotten);
-- 2. the drop judges the partition by typed values as well: it refuses a partition that holds any row at or
--    after the floor, whatever its bounds say.

CREATE OR REPLACE FUNCTION lethe.purge_drop_partition(p_table text, p_partition regclass, p_run bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
DECLARE
    v_rule  lethe.purge_rules;
    v_bound text;
    v_upper timestamptz;
    v_floor timestamptz;
    v_held  bigint[];
    v_any   boolean;
    v_young boolean;
    v_rows  bigint;
    v_name  text;
BEGIN
    LOCK TABLE lethe.legal_holds IN SHARE MODE;
    v_rule := lethe.purge_rule_for(p_table, NULL);
    -- Bounds are constants: deparsed without opening the relation (ISO output: DateStyle is pinned).
    SELECT pg_get_expr(c.relpartbound, 0), c.relname INTO v_bound, v_name
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhrelid = p_partition AND i.inhparent = v_rule.relation;
    IF v_bound IS NULL THEN
        RAISE EXCEPTION 'refused: % is not a partition of %', p_partition, p_table USING ERRCODE = 'insufficient_privilege';
    END IF;
    BEGIN
        v_upper := (regexp_match(v_bound, '^FOR VALUES FROM \(.*\) TO \(''([^'']+)''\)$'))[1]::timestamptz;
    EXCEPTION WHEN others THEN
        v_upper := NULL;
    END;
    IF v_upper IS NULL THEN
        RAISE EXCEPTION 'refused: the bounds of % cannot be read as one timestamp range (%)', p_partition, v_bound
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    v_floor := greatest(now() - interval '6 months', now() - v_rule.retention);
    IF v_upper > v_floor THEN
        RAISE EXCEPTION 'refused: partition % holds rows up to %, younger than the retention of % allows (%)', p_partition, v_upper, p_table, v_floor
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- From here until commit no row enters or leaves this partition: what is checked and counted is what is dropped.
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', p_partition);
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I >= $1)', p_partition, v_rule.timestamp_column) INTO v_young USING v_floor;
    IF v_young THEN
        RAISE EXCEPTION 'refused: partition % holds rows at or after %, younger than the retention of % allows', p_partition, v_floor, p_table
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT coalesce(array_agg(customer_id), '{}') INTO v_held FROM lethe.legal_holds
    WHERE released_at IS NULL AND (until IS NULL OR until > now());
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I = ANY ($1))', p_partition, v_rule.customer_column) INTO v_any USING v_held;
    IF v_any THEN
        -- Its own SQLSTATE: the caller then deletes the partition's other rows one batch at a time.
        RAISE EXCEPTION 'refused: partition % holds rows of a customer under legal hold', p_partition USING ERRCODE = 'LTH01';
    END IF;
    EXECUTE format('SELECT count(*) FROM %s', p_partition) INTO v_rows;
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', v_rule.relation, p_partition);
    EXECUTE format('DROP TABLE %s', p_partition);
    INSERT INTO lethe.purge_run_items (run_id, table_name, partition_name, rows_deleted, partitions_dropped)
    VALUES (p_run, p_table, v_name, v_rows, 1)
    ON CONFLICT (run_id, table_name, customer_id, partition_name) DO UPDATE
    SET rows_deleted = lethe.purge_run_items.rows_deleted + EXCLUDED.rows_deleted,
        partitions_dropped = lethe.purge_run_items.partitions_dropped + 1;
    RETURN v_rows;
END
$$;

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
