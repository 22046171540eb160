-- A partition is a table of its own with its own privileges: those `roles apply` granted on the parent do not
-- reach a partition made later, so the worker's daily backup failed with permission denied from the day its
-- partitions job created the next partition. Every partition Lethe creates now receives its parent's grants.

-- Grants on `p_child` what is granted on `p_parent` (PUBLIC included), as the caller: SECURITY INVOKER, so it can
-- give only what its caller could give anyway (the owner, or create_partition running as the owner).
CREATE FUNCTION lethe.inherit_parent_privileges(p_parent regclass, p_child regclass) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_grant record;
BEGIN
    FOR v_grant IN
        SELECT a.privilege_type, a.grantee, a.is_grantable
        FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
        WHERE c.oid = p_parent AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('GRANT %s ON %s TO %s%s', v_grant.privilege_type, p_child,
                       CASE WHEN v_grant.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(v_grant.grantee::regrole::text) END,
                       CASE WHEN v_grant.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION lethe.create_partition(p_table text, p_name text, p_from timestamptz, p_to timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC'
SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET lc_monetary = 'C' SET lc_numeric = 'C' SET lc_time = 'C'
SET extra_float_digits = 1 AS $$
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
                   to_char(p_from, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), to_char(p_to, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
END
$$;

REVOKE ALL ON FUNCTION lethe.create_partition(text, text, timestamptz, timestamptz) FROM PUBLIC;
