-- Time columns as gateways keep them (issue 33): Unix epoch seconds in an integer column
-- (`timestamp_type: epoch_seconds`). The guarded functions compare such a column with an instant converted to whole
-- seconds (rounded up: an integer e is below a real c exactly when it is below ceil(c)), never the column with a
-- conversion of itself, so its index and partition pruning keep working; partition bounds are whole seconds. The
-- column's type in the catalog decides: an integer timestamp column is epoch seconds, whatever a session says.

CREATE FUNCTION lethe.time_is_epoch(p_relation regclass, p_column name) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT a.atttypid IN ('bigint'::regtype, 'integer'::regtype) FROM pg_attribute a
                     WHERE a.attrelid = p_relation AND a.attname = p_column AND NOT a.attisdropped), false)
$$;

-- The SQL comparing `p_column` with the timestamptz SQL `p_value`: that value in the column's own type.
CREATE FUNCTION lethe.time_bound_sql(p_relation regclass, p_column name, p_value text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN lethe.time_is_epoch(p_relation, p_column)
                THEN format('pg_catalog.ceil(EXTRACT(epoch FROM (%s)::timestamptz))::bigint', p_value)
                ELSE format('(%s)::timestamptz', p_value) END
$$;

-- A partition bound at `p_value` as the column's type reads it: an ISO timestamp in UTC, or whole epoch seconds.
CREATE FUNCTION lethe.time_bound_literal(p_relation regclass, p_column name, p_value timestamptz) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
    SELECT CASE WHEN lethe.time_is_epoch(p_relation, p_column)
                THEN floor(EXTRACT(epoch FROM p_value))::bigint::text
                ELSE to_char(p_value, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END
$$;

-- The purge's guarded functions (0015-0021), through lethe.time_bound_sql.
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
    v_key   text;
BEGIN
    -- Holds are frozen until commit: a `hold add` waits for this batch, and this batch sees every hold placed.
    LOCK TABLE lethe.legal_holds IN SHARE MODE;
    v_rule := lethe.purge_rule_for(p_table, p_leaf);
    v_key := lethe.customer_key_sql(p_leaf, v_rule.customer_column);
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
        v_where := format('%1$s = ANY ($3) AND %2$I >= %3$s AND %2$I < %4$s', v_key, v_rule.timestamp_column,
                          lethe.time_bound_sql(p_leaf, v_rule.timestamp_column, '$4'),
                          lethe.time_bound_sql(p_leaf, v_rule.timestamp_column, format('($5)[array_position($3, %s)]', v_key)));
    ELSE
        v_where := format('%I < %s', v_rule.timestamp_column, lethe.time_bound_sql(p_leaf, v_rule.timestamp_column, '$4'));
    END IF;
    v_where := v_where || format(' AND NOT coalesce(%s = ANY ($6), false)', v_key);
    IF p_from IS NOT NULL THEN
        v_where := 'ctid >= $1 AND ctid < $2 AND ' || v_where;
    ELSIF p_limit IS NULL THEN
        RAISE EXCEPTION 'give a block range (p_from, p_to) or p_limit';
    ELSE
        v_where := format('ctid = ANY (ARRAY(SELECT ctid FROM %s WHERE %s LIMIT $7)) AND ', p_leaf, v_where) || v_where;
    END IF;
    EXECUTE format($q$
        WITH deleted AS (DELETE FROM %s WHERE %s RETURNING %s AS customer_id),
        counted AS (SELECT customer_id, count(*) AS n FROM deleted GROUP BY customer_id),
        logged AS (
            INSERT INTO lethe.purge_run_items (run_id, table_name, customer_id, rows_deleted)
            SELECT $8, $9, coalesce(customer_id, -2), n FROM counted
            ON CONFLICT (run_id, table_name, customer_id, partition_name)
            DO UPDATE SET rows_deleted = lethe.purge_run_items.rows_deleted + EXCLUDED.rows_deleted)
        SELECT coalesce(sum(n), 0)::bigint FROM counted $q$, p_leaf, v_where, v_key)
    INTO v_count
    USING p_from, p_to, p_customers, p_cutoff, p_cutoffs, v_held, p_limit, p_run, p_table;
    RETURN v_count;
END
$$;

CREATE OR REPLACE FUNCTION lethe.purge_drop_partition(p_table text, p_partition regclass, p_run bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
DECLARE
    v_rule  lethe.purge_rules;
    v_bound text;
    v_text  text;
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
        -- A quoted timestamp, or whole epoch seconds for an integer key (timestamp_type: epoch_seconds; a bigint
        -- bound prints quoted, an integer one bare).
        v_text := (regexp_match(v_bound, '^FOR VALUES FROM \(.*\) TO \((''[^'']+''|-?[0-9]+)\)$'))[1];
        IF lethe.time_is_epoch(v_rule.relation, v_rule.timestamp_column) THEN
            v_upper := to_timestamp(btrim(v_text, '''')::bigint);
        ELSE
            v_upper := btrim(v_text, '''')::timestamptz;
        END IF;
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
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I >= %s)', p_partition, v_rule.timestamp_column,
                   lethe.time_bound_sql(p_partition, v_rule.timestamp_column, '$1')) INTO v_young USING v_floor;
    IF v_young THEN
        RAISE EXCEPTION 'refused: partition % holds rows at or after %, younger than the retention of % allows', p_partition, v_floor, p_table
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT coalesce(array_agg(customer_id), '{}') INTO v_held FROM lethe.legal_holds
    WHERE released_at IS NULL AND (until IS NULL OR until > now());
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %s = ANY ($1))', p_partition, lethe.customer_key_sql(p_partition, v_rule.customer_column))
        INTO v_any USING v_held;
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

CREATE OR REPLACE FUNCTION lethe.create_partition(p_table text, p_name text, p_from timestamptz, p_to timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
DECLARE
    v_rule   lethe.purge_rules;
    v_schema name;
BEGIN
    v_rule := lethe.purge_rule_for(p_table, NULL);
    IF p_name !~ '^[a-z_][a-z0-9_]{0,62}$' OR p_from IS NULL OR p_to IS NULL OR p_from >= p_to THEN
        RAISE EXCEPTION 'refused: partition name or range is not valid' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT n.nspname INTO v_schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_rule.relation;
    EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)',
                   v_schema, p_name, v_rule.relation);
    PERFORM lethe.inherit_parent_privileges(v_rule.relation, format('%I.%I', v_schema, p_name)::regclass);
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)', v_rule.relation, v_schema, p_name,
                   lethe.time_bound_literal(v_rule.relation, v_rule.timestamp_column, p_from),
                   lethe.time_bound_literal(v_rule.relation, v_rule.timestamp_column, p_to));
END
$$;

-- The same pinned settings as every SECURITY DEFINER function of 0017 (text they format or parse means one thing), by
-- a function later migrations call after adding some (0021 and earlier repeat the loop inline).
CREATE FUNCTION lethe.pin_definer_settings() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
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
REVOKE ALL ON FUNCTION lethe.pin_definer_settings() FROM PUBLIC;
SELECT lethe.pin_definer_settings();
