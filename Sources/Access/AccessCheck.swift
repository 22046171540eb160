import LetheCore
import Policy
import Postgres

/// What the connected user may do, by the privileges PostgreSQL would check: a superuser and the tables' owner
/// pass every duty, a member of a duty role passes that duty. A command calls `require` before doing
/// anything, so a missing privilege is exit 77 with nothing changed.
public struct AccessCheck {
    let db: PostgresConnection
    let policy: RetentionPolicy?

    public init(_ db: PostgresConnection, policy: RetentionPolicy?) {
        self.db = db
        self.policy = policy
    }

    /// The duty's privileges this user lacks (absent objects included).
    public func missing(for duty: Duty) throws -> [Privilege] {
        try missing(duty.privileges(policy: policy))
    }

    /// Schema changes need only CREATE on Lethe's schema once it exists (the first migration creates it).
    public func requireMigration() throws {
        let exists = try db.query("SELECT to_regnamespace('lethe') IS NOT NULL AS e").single("schema").bool("e")
        guard exists else { return }
        let missing = try missing([Privilege(kind: .schema, object: "lethe", privilege: "CREATE")])
        if !missing.isEmpty { try fail(command: "migrate", duty: .operator, roles: [Duty.operator.role], missing: missing) }
    }

    public func missing(_ privileges: [Privilege]) throws -> [Privilege] {
        let held = try db.query("""
            SELECT CASE t.kind
                WHEN 'schema' THEN coalesce((SELECT has_schema_privilege(n.oid, t.privilege) FROM pg_namespace n WHERE n.nspname = t.object), false)
                -- Through the catalog, never a name lookup that a schema without USAGE would turn into an error.
                WHEN 'table' THEN coalesce((
                    SELECT has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, t.privilege)
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = split_part(t.object, '.', 1) AND c.relname = split_part(t.object, '.', 2)), false)
                ELSE coalesce((
                    SELECT CASE WHEN has_schema_privilege(n.oid, 'USAGE') THEN has_function_privilege(to_regprocedure(t.object), t.privilege) END
                    FROM pg_namespace n WHERE n.nspname = split_part(t.object, '.', 1)), false)
                END AS granted
            FROM unnest(\(.textArray(privileges.map(\.kind.rawValue)))::text[], \(.textArray(privileges.map(\.object)))::text[], \(.textArray(privileges.map(\.privilege)))::text[]) WITH ORDINALITY AS t(kind, object, privilege, position)
            ORDER BY t.position
            """)
            .rows.map { try $0.bool("granted") }
        return zip(privileges, held).filter { !$0.1 }.map(\.0)
    }

    /// Throws exit 77 unless the user holds every privilege of at least one of `duties`.
    public func require(anyOf duties: [Duty], command: String) throws {
        var lacking: [(Duty, [Privilege])] = []
        for duty in duties {
            let missing = try missing(for: duty)
            if missing.isEmpty { return }
            lacking.append((duty, missing))
        }
        let (duty, missing) = lacking.min { $0.1.count < $1.1.count }!
        try fail(command: command, duty: duty, roles: duties.map(\.role), missing: missing)
    }

    private func fail(command: String, duty: Duty, roles: [String], missing: [Privilege]) throws -> Never {
        let user = try db.query("SELECT current_user AS u").single("user").string("u")
        let shown = missing.prefix(3).map(\.description).joined(separator: ", ") + (missing.count > 3 ? ", …" : "")
        throw LetheError(.noPermission,
                         "'\(command)' needs the \(roles.joined(separator: " or ")) role: \(user) lacks \(shown); nothing was changed",
                         hint: "a DBA grants it with 'GRANT \(duty.role) TO \(user)' (after 'lethe roles apply'); 'lethe roles check' lists what this user can do")
    }

    public struct DutyStatus: Sendable, Encodable {
        public let duty: Duty
        public let role: String
        public let roleExists: Bool
        public let member: Bool
        public let permitted: Bool
        public let missing: [String]
    }

    public struct Report: Sendable, Encodable {
        public let user: String
        public let superuser: Bool
        public let duties: [DutyStatus]
        /// Triggers, rules and row-level policies on Lethe's tables (its migrations make none), and privileges a
        /// duty role must never hold there: each is a way to run code as the owner of the guarded functions.
        public let unsafe: [String]
    }

    public func report() throws -> Report {
        let who = try db.query("SELECT current_user AS u, rolsuper AS s FROM pg_roles WHERE rolname = current_user").single("user")
        var duties: [DutyStatus] = []
        for duty in Duty.allCases {
            let role = try db.query("""
                SELECT r.oid IS NOT NULL AS present, coalesce(pg_has_role(r.oid, 'USAGE'), false) AS member
                FROM (SELECT 1) one LEFT JOIN pg_roles r ON r.rolname = \(.text(duty.role))
                """).single("role")
            let missing = try missing(for: duty)
            duties.append(DutyStatus(duty: duty, role: duty.role, roleExists: try role.bool("present"), member: try role.bool("member"),
                                     permitted: missing.isEmpty, missing: missing.map(\.description)))
        }
        return Report(user: try who.string("u"), superuser: try who.bool("s"), duties: duties, unsafe: try unsafeObjects())
    }

    /// What on schema `lethe` would run someone's code as the tables' owner: a trigger, rule or policy (Lethe's
    /// migrations create none), or TRIGGER, REFERENCES or TRUNCATE held by a duty role.
    public func unsafeObjects() throws -> [String] {
        try db.query("""
            SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass AS line
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE c.relnamespace = 'lethe'::regnamespace AND NOT t.tgisinternal
            UNION ALL
            SELECT 'rule ' || r.rulename || ' on ' || r.ev_class::regclass
            FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
            WHERE c.relnamespace = 'lethe'::regnamespace AND r.rulename <> '_RETURN'
            UNION ALL
            SELECT 'row-level policy ' || p.polname || ' on ' || p.polrelid::regclass
            FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
            WHERE c.relnamespace = 'lethe'::regnamespace
            UNION ALL
            SELECT role.rolname || ' holds ' || privilege.name || ' on ' || c.oid::regclass
            FROM pg_class c
            CROSS JOIN (VALUES ('TRIGGER'), ('REFERENCES'), ('TRUNCATE')) AS privilege(name)
            JOIN pg_roles role ON role.rolname = ANY (\(.textArray(Duty.allCases.map(\.role)))::text[])
            WHERE c.relnamespace = 'lethe'::regnamespace AND c.relkind IN ('r', 'p')
              AND c.relowner <> role.oid AND has_table_privilege(role.oid, c.oid, privilege.name)
            ORDER BY 1
            """).rows.map { try $0.string("line") }
    }
}
