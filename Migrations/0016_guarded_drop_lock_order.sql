-- The guarded partition drop (0015) held ACCESS EXCLUSIVE on the parent while it counted the detached
-- partition's rows, so every insert into the table waited for a full scan of a day of messages (the worker's
-- purge showed 11-13 ms insert p99 against 1-3 ms for the owner's). It also checked for held rows before
-- anything stopped a backdated insert into that partition, so such a row could still arrive before the detach.
-- Now the partition alone is locked first (SHARE: reads go on, writes into that one old partition wait), then
-- checked and counted, and only the detach and drop run under the parent's lock.
CREATE OR REPLACE FUNCTION lethe.purge_drop_partition(p_table text, p_partition regclass, p_run bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
DECLARE
    v_rule  lethe.purge_rules;
    v_bound text;
    v_upper timestamptz;
    v_floor timestamptz;
    v_held  bigint[];
    v_any   boolean;
    v_rows  bigint;
    v_name  text;
BEGIN
    LOCK TABLE lethe.legal_holds IN SHARE MODE;
    v_rule := lethe.purge_rule_for(p_table, NULL);
    -- Bounds are constants: deparsed without opening the relation.
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
