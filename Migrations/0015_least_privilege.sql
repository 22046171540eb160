-- Least privilege. `lethe roles apply` creates the duty roles and their grants; this migration gives the
-- worker role a way to create and remove partitions and to delete rows that needs no ownership of any table:
-- SECURITY DEFINER functions, owned by the tables' owner (whoever runs the migrations), which recompute the
-- cutoff from the database clock, the six-month ceiling, the recorded table retention, the customers' own
-- shorter retention and the legal holds, and refuse anything younger or held. The planner, the batching and
-- the lock discipline stay in Lethe; even a worker host under an attacker's control cannot remove a row these
-- rules keep. search_path and TimeZone are pinned so that no caller setting changes what the SQL means.

-- The retention of each purged table as the operator recorded it from the policy (`lethe roles apply`). The
-- worker cannot write it, so it cannot shorten a table's retention either. Same ceiling as the overrides.
CREATE TABLE lethe.purge_rules (
    table_name       text PRIMARY KEY,
    relation         regclass NOT NULL,
    timestamp_column name NOT NULL,
    customer_column  name NOT NULL,
    retention        interval NOT NULL CHECK (retention > interval '0' AND retention <= interval '184 days'),
    recorded_by      text NOT NULL DEFAULT session_user,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);

-- Appends run as the owner, so no duty role needs any write privilege on lethe.audit_log itself.
ALTER FUNCTION lethe.audit_append(text, text, text, jsonb) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- The earliest instant a row of `p_customer` in `p_table` may be kept from: rows older than this may go.
-- '-infinity' for a customer under an active hold; NULL when the table has no recorded rule (nothing may go).
CREATE FUNCTION lethe.purge_guard_cutoff(p_table text, p_customer bigint) RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM lethe.legal_holds h WHERE h.customer_id = p_customer AND h.released_at IS NULL
                     AND (h.until IS NULL OR h.until > now())) THEN '-infinity'::timestamptz
        ELSE greatest(now() - interval '6 months', now() - r.retention,
                      coalesce(now() - (SELECT o.period_interval FROM lethe.retention_overrides o WHERE o.customer_id = p_customer),
                               '-infinity'::timestamptz))
        END
    FROM lethe.purge_rules r WHERE r.table_name = p_table
$$;

-- The rule of `p_table`, and that `p_relation` is that table or one of its partitions (any depth).
CREATE FUNCTION lethe.purge_rule_for(p_table text, p_relation regclass) RETURNS lethe.purge_rules
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_rule lethe.purge_rules;
BEGIN
    SELECT * INTO v_rule FROM lethe.purge_rules WHERE table_name = p_table;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no purge rule is recorded for table %', p_table
            USING ERRCODE = 'insufficient_privilege', HINT = 'an operator records the policy''s rules with ''lethe roles apply''';
    END IF;
    IF p_relation IS NOT NULL AND p_relation <> v_rule.relation
       AND NOT EXISTS (SELECT 1 FROM pg_partition_tree(v_rule.relation) t WHERE t.relid = p_relation) THEN
        RAISE EXCEPTION 'relation % is not part of table %', p_relation, p_table USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN v_rule;
END
$$;

-- Deletes the rows of `p_leaf` (a leaf of `p_table`) older than the caller's cutoff, in one batch: either the
-- heap blocks [p_from, p_to) or, with p_limit, the first p_limit matching rows found through an index. With
-- p_customers, only those customers, each below its own cutoff (p_cutoffs, aligned); otherwise every
-- customer below p_cutoff. Raises when a cutoff is younger than the rules allow or a listed customer is
-- held; rows of held customers are never deleted. Counts go to the run's ledger in the same transaction.
CREATE FUNCTION lethe.purge_delete_rows(p_table text, p_leaf regclass, p_run bigint, p_cutoff timestamptz,
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
    v_where := v_where || format(' AND NOT (%I = ANY ($6))', v_rule.customer_column);
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
            SELECT $8, $9, customer_id, n FROM counted
            ON CONFLICT (run_id, table_name, customer_id, partition_name)
            DO UPDATE SET rows_deleted = lethe.purge_run_items.rows_deleted + EXCLUDED.rows_deleted)
        SELECT coalesce(sum(n), 0)::bigint FROM counted $q$, p_leaf, v_where, v_rule.customer_column)
    INTO v_count
    USING p_from, p_to, p_customers, p_cutoff, p_cutoffs, v_held, p_limit, p_run, p_table;
    RETURN v_count;
END
$$;

-- Removes a whole partition of `p_table` in the caller's transaction: detach (ACCESS EXCLUSIVE on the parent,
-- for as long as the caller's lock_timeout allows) and drop. Refused when the partition's upper bound is later
-- than the table's retention allows, when it is a DEFAULT partition or its bounds cannot be read, and when it
-- holds any row of a customer under hold (the caller then deletes row by row). Returns the rows removed.
CREATE FUNCTION lethe.purge_drop_partition(p_table text, p_partition regclass, p_run bigint) RETURNS bigint
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
    SELECT pg_get_expr(c.relpartbound, c.oid), c.relname INTO v_bound, v_name
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
    SELECT coalesce(array_agg(customer_id), '{}') INTO v_held FROM lethe.legal_holds
    WHERE released_at IS NULL AND (until IS NULL OR until > now());
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I = ANY ($1))', p_partition, v_rule.customer_column) INTO v_any USING v_held;
    IF v_any THEN
        -- Its own SQLSTATE: the caller then deletes the partition's other rows one batch at a time.
        RAISE EXCEPTION 'refused: partition % holds rows of a customer under legal hold', p_partition USING ERRCODE = 'LTH01';
    END IF;
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', v_rule.relation, p_partition);
    EXECUTE format('SELECT count(*) FROM %s', p_partition) INTO v_rows;
    EXECUTE format('DROP TABLE %s', p_partition);
    INSERT INTO lethe.purge_run_items (run_id, table_name, partition_name, rows_deleted, partitions_dropped)
    VALUES (p_run, p_table, v_name, v_rows, 1)
    ON CONFLICT (run_id, table_name, customer_id, partition_name) DO UPDATE
    SET rows_deleted = lethe.purge_run_items.rows_deleted + EXCLUDED.rows_deleted,
        partitions_dropped = lethe.purge_run_items.partitions_dropped + 1;
    RETURN v_rows;
END
$$;

-- Creates one range partition [p_from, p_to) of `p_table`, named p_name in the table's schema, as
-- `lethe partitions ensure` does for its owner: a table of its own, then ATTACH (inserts pass the attach).
CREATE FUNCTION lethe.create_partition(p_table text, p_name text, p_from timestamptz, p_to timestamptz) RETURNS void
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
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)', v_rule.relation, v_schema, p_name,
                   to_char(p_from, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), to_char(p_to, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
END
$$;

-- Erased people's fingerprints go once no backup older than the erasure can be restored (six months and a
-- week): computed here, so the role that runs the purge needs no write privilege on the tombstones.
CREATE FUNCTION lethe.expire_tombstone_fingerprints() RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
    WITH expired AS (
        UPDATE lethe.tombstones SET blind_index = NULL, subject_hmac = NULL
        WHERE erased_at < now() - interval '6 months' - interval '7 days' AND (blind_index IS NOT NULL OR subject_hmac IS NOT NULL)
        RETURNING 1)
    SELECT count(*) FROM expired
$$;

-- Only the roles `lethe roles apply` grants them to may call these.
REVOKE ALL ON FUNCTION lethe.purge_guard_cutoff(text, bigint), lethe.purge_rule_for(text, regclass),
    lethe.purge_delete_rows(text, regclass, bigint, timestamptz, bigint[], timestamptz[], tid, tid, integer),
    lethe.purge_drop_partition(text, regclass, bigint), lethe.create_partition(text, text, timestamptz, timestamptz),
    lethe.expire_tombstone_fingerprints(), lethe.audit_append(text, text, text, jsonb) FROM PUBLIC;
