import Audit
import LetheCore
import Policy
import Postgres
import Purge

/// `lethe roles apply`: creates the four duty roles (NOLOGIN) and makes their grants exactly what the duties need,
/// in one transaction, and records the policy's purge rules for the guarded functions. Idempotent: every run
/// revokes what the roles hold on Lethe's schemas and grants it again, so a grant removed from the design
/// disappears too. Run by the tables' owner (or a superuser); rerun after `lethe migrate` adds tables.
public struct RolesApply {
    let db: PostgresConnection
    let policy: RetentionPolicy

    public init(_ db: PostgresConnection, policy: RetentionPolicy) {
        self.db = db
        self.policy = policy
    }

    public struct Report: Sendable, Encodable {
        public let dryRun: Bool
        public let rolesCreated: [String]
        public let statements: [String]
        public let purgeRules: [PurgeRules.Rule]
    }

    /// The application relations a duty may be granted: the policy's tables, every partition of them (at any
    /// depth) and the sequences they own (serial and identity columns), as quoted names from the catalog. Never a
    /// whole schema: in a shop whose application lives in `public`, `ALL TABLES IN SCHEMA public` reached its
    /// billing and user tables (issue 30, defect 11). Partitions made later inherit their parent's grants (0018).
    public struct Relations: Sendable, Equatable {
        public var tables: [String] = []
        public var sequences: [String] = []
    }

    public func relations() throws -> Relations {
        let names = policy.tables.filter { $0.name.schema.name != "lethe" }.map(\.name.quoted)
        guard !names.isEmpty else { return Relations() }
        let tables = try db.query("""
            SELECT DISTINCT format('%I.%I', n.nspname, c.relname) AS name
            FROM unnest(\(.textArray(names))::text[]) AS p(name)
            -- pg_partition_tree gives no row for a table that is not partitioned: the table itself, then its tree.
            CROSS JOIN LATERAL (SELECT to_regclass(p.name) AS relid UNION SELECT relid FROM pg_partition_tree(to_regclass(p.name))) t
            JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
            ORDER BY 1
            """).rows.map { try $0.string("name") }
        let sequences = try db.query("""
            SELECT DISTINCT format('%I.%I', n.nspname, s.relname) AS name
            FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
              AND d.refobjid = ANY (SELECT to_regclass(x) FROM unnest(\(.textArray(tables))::text[]) AS x) ORDER BY 1
            """).rows.map { try $0.string("name") }
        return Relations(tables: tables, sequences: sequences)
    }

    /// The grant statements, in order. Identifiers come from the validated policy, the catalog (quoted by
    /// `format('%I')`) and fixed role names.
    public func statements(_ relations: Relations) -> [String] {
        let applicationSchemas = Set(policy.tables.map(\.name.schema)).filter { $0.name != "lethe" }.sorted()
        let schemas = (["\"lethe\""] + applicationSchemas.map(\.quoted)).joined(separator: ", ")
        let appTables = relations.tables.joined(separator: ", "), appSequences = relations.sequences.joined(separator: ", ")
        /// `GRANT what ON lethe's own, and the application's relations of the policy`.
        func grant(_ privileges: String, tables lethe: String, to role: String, sequences: Bool = false) -> [String] {
            let application = sequences ? appSequences : appTables
            return ["GRANT \(privileges) ON \(lethe) TO \(role)"] + (application.isEmpty ? [] : ["GRANT \(privileges) ON \(sequences ? "SEQUENCE " : "")\(application) TO \(role)"])
        }
        var sql: [String] = []
        for duty in Duty.allCases {
            sql += [
                "REVOKE ALL ON ALL TABLES IN SCHEMA \(schemas) FROM \(duty.role)",
                "REVOKE ALL ON ALL SEQUENCES IN SCHEMA \(schemas) FROM \(duty.role)",
                "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA \(schemas) FROM \(duty.role)",
                "REVOKE ALL ON SCHEMA \(schemas) FROM \(duty.role)",
            ]
        }
        let functions = (Duty.guardedFunctions + [Duty.auditAppend]).joined(separator: ", ")
        sql += [
            // The worker reads what it purges, plans, checks and backs up (sealed values and wrapped keys only: it
            // holds no key), records its runs, and changes tables only through the guarded functions.
            "GRANT USAGE ON SCHEMA \(schemas) TO lethe_worker",
        ] + grant("SELECT", tables: "ALL TABLES IN SCHEMA lethe", to: "lethe_worker")
          + grant("SELECT", tables: "ALL SEQUENCES IN SCHEMA lethe", to: "lethe_worker", sequences: true) + [
            "GRANT INSERT, UPDATE ON lethe.purge_runs, lethe.purge_run_items, lethe.job_runs TO lethe_worker",
            "GRANT USAGE ON SEQUENCE lethe.purge_runs_id_seq, lethe.job_runs_id_seq TO lethe_worker",
            "GRANT EXECUTE ON FUNCTION \(functions) TO lethe_worker",
            // The DPO reads and erases application rows, and keeps the registers of overrides, holds, requests and erasures.
            "GRANT USAGE ON SCHEMA \(schemas) TO lethe_dpo",
        ] + (appTables.isEmpty ? [] : ["GRANT SELECT, INSERT, UPDATE, DELETE ON \(appTables) TO lethe_dpo"]) + [
            // Its registers only through functions that write the audit record too: no direct INSERT, UPDATE or DELETE.
            "GRANT SELECT ON ALL TABLES IN SCHEMA lethe TO lethe_dpo",
        ] + grant("USAGE, SELECT", tables: "ALL SEQUENCES IN SCHEMA lethe", to: "lethe_dpo", sequences: true) + [
            "GRANT EXECUTE ON FUNCTION \((Duty.dpoFunctions + [Duty.auditAppend]).joined(separator: ", ")) TO lethe_dpo",
            // The operator administers: schema changes, restores, keys, intake. The audit log stays append-only.
            // Rows only, never TRIGGER, REFERENCES or TRUNCATE: a trigger of its own on a table that a SECURITY
            // DEFINER function writes would run as that function's owner (the tables' owner, often a superuser).
            "GRANT USAGE, CREATE ON SCHEMA \(schemas) TO lethe_operator",
        ] + grant("SELECT, INSERT, UPDATE, DELETE", tables: "ALL TABLES IN SCHEMA lethe", to: "lethe_operator")
          + grant("ALL", tables: "ALL SEQUENCES IN SCHEMA lethe", to: "lethe_operator", sequences: true) + [
            "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA lethe TO lethe_operator",
            "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON lethe.audit_log FROM lethe_operator",
            // The auditor reads the registers, never application data.
            "GRANT USAGE ON SCHEMA lethe TO lethe_auditor",
            "GRANT SELECT ON \(Duty.registers.joined(separator: ", ")) TO lethe_auditor",
            // The application (the live API, lethe serve) inserts and reads the policy's rows and uses their sequences:
            // no DELETE, UPDATE or DDL; of Lethe's registers it reads the data keys it seals with and adds a month's key.
            "GRANT USAGE ON SCHEMA \(schemas) TO lethe_app",
        ] + (appTables.isEmpty ? [] : ["GRANT SELECT, INSERT ON \(appTables) TO lethe_app"])
          + (appSequences.isEmpty ? [] : ["GRANT USAGE, SELECT ON SEQUENCE \(appSequences) TO lethe_app"]) + [
            "GRANT SELECT ON \(Duty.sealingTables.joined(separator: ", ")) TO lethe_app",
            "GRANT INSERT ON lethe.customer_keys TO lethe_app",
            "GRANT USAGE ON SEQUENCE lethe.customer_keys_key_id_seq TO lethe_app",
            "GRANT EXECUTE ON FUNCTION \(Duty.auditAppend), \(Duty.serveNote) TO lethe_app",
        ]
        return sql
    }

    public func run(dryRun: Bool) throws -> Report {
        let existing = try Set(db.query("SELECT rolname FROM pg_roles WHERE rolname = ANY (\(.textArray(Duty.allCases.map(\.role)))::text[])")
            .rows.map { try $0.string("rolname") })
        let missing = Duty.allCases.map(\.role).filter { !existing.contains($0) }
        if !missing.isEmpty {
            let may = try db.query("SELECT rolsuper OR rolcreaterole AS may FROM pg_roles WHERE rolname = current_user").single("role").bool("may")
            guard may else {
                throw LetheError(.noPermission, "creating the roles \(missing.joined(separator: ", ")) needs CREATEROLE; nothing was changed",
                                 hint: "run 'lethe roles apply' as the tables' owner with CREATEROLE, or as a superuser")
            }
        }
        let statements = missing.map { "CREATE ROLE \($0) NOLOGIN" } + self.statements(try relations())
        guard !dryRun else {
            return Report(dryRun: true, rolesCreated: missing, statements: statements, purgeRules: PurgeRules.rules(of: policy))
        }
        var rules: [PurgeRules.Rule] = []
        do {
            try db.transaction {
                // Text built from the policy's validated identifiers (quoted) and Lethe's fixed role names only,
                // and shown as is by --dry-run: nothing from outside.
                for statement in statements { try db.execute(SQL(unsafeRaw: statement)) }
                rules = try PurgeRules(db: db).record(policy)
                try AuditLog.append(db, action: "roles.apply", target: "roles", details: [
                    "created": .array(missing.map { .string($0) }),
                    "purge_rules": .array(rules.map { .string("\($0.table) \($0.retention)") }),
                ])
            }
        } catch let error as PostgresError where error.sqlState == "42501" {
            throw LetheError(.noPermission, "roles apply could not grant: \(error.message); nothing was changed",
                             hint: "run it as the owner of Lethe's and the application's tables (or a superuser)")
        }
        return Report(dryRun: false, rolesCreated: missing, statements: statements, purgeRules: rules)
    }
}
