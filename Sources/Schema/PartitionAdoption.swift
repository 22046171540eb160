import Foundation
import LetheCore
import Policy
import Postgres

/// `lethe partitions adopt`: turns an unpartitioned policy table into its partitioned layout without rewriting it.
/// The old table becomes the first partition, `FROM (MINVALUE) TO (upper)`, `upper` a week past now on the
/// interval grid: a CHECK saying so is added `NOT VALID` and validated first (a scan under SHARE UPDATE EXCLUSIVE,
/// which inserts pass), so the attach skips its own scan; the unique key the parent needs, (id, timestamp), is built
/// `CONCURRENTLY`. Then one short transaction renames the table, creates the partitioned parent under its name,
/// moves the id sequence to it, copies its grants and indexes, and attaches the old table; every lock there is
/// bounded by `lock_timeout` and retried. The purge sweeps the old partition row by row until all of it is past its
/// cutoff, then drops it. Each step checks whether it is done, so a killed run is finished by a rerun.
public struct PartitionAdoption {
    let db: PostgresConnection
    let lockTimeoutMilliseconds: Int

    public init(db: PostgresConnection, lockTimeoutMilliseconds: Int = 200) {
        self.db = db
        self.lockTimeoutMilliseconds = lockTimeoutMilliseconds
    }

    public struct Plan: Sendable, Encodable {
        public let table: String
        public let alreadyPartitioned: Bool
        /// The old table's name once it is the first partition.
        public let oldPartition: String
        /// Its upper bound: rows before it stay in the old table, later ones go to the interval partitions.
        public let upperBound: Date
        public let rows: Int64
        public let steps: [String]
        /// Index definitions copied to the parent (as partitioned indexes the old table's own are attached to).
        public let indexes: [String]
        /// Unique indexes that stay the old partition's own (PostgreSQL's partitioned unique keys must include the
        /// partition key): later rows are unique by (id, timestamp).
        public let localUniqueIndexes: [String]
    }

    static let checkName = try! SQLIdentifier("lethe_adopt_range")

    public func plan(_ table: TablePolicy, now: Date) throws -> Plan {
        guard let timestamp = table.timestampColumn, let layout = table.partitioning else {
            throw LetheError.config("\(table.name) has no partitioning in the policy",
                                    hint: "add partitioning: { interval: P1D, ahead: P30D } to its entry (a timestamp column is needed), then rerun")
        }
        guard let relation = try db.query("SELECT relkind::text AS kind FROM pg_class WHERE oid = to_regclass(\(.text(table.name.quoted)))").first else {
            throw LetheError.noInput("table \(table.name) does not exist", hint: "check the policy's table name ('lethe policy check')")
        }
        let oldName = try QualifiedName(schema: table.name.schema, name: SQLIdentifier(String(table.name.name.name.prefix(50)) + "_p_adopted"))
        if try relation.string("kind") == "p" {
            return Plan(table: table.name.description, alreadyPartitioned: true, oldPartition: oldName.description, upperBound: now, rows: 0,
                        steps: [], indexes: [], localUniqueIndexes: [])
        }
        try refuseWhatWouldChangeMeaning(table)
        let upper = try existingUpper(table) ?? layout.interval.start(containing: now.addingTimeInterval(7 * 86_400))
        let nulls = try db.query("SELECT count(*) AS n FROM \(table.name) WHERE \(timestamp) IS NULL").single("nulls").int("n")
        guard nulls == 0 else {
            throw LetheError.dataError("\(table.name): \(nulls) row(s) have no \(timestamp.name): a range partition cannot hold them",
                                       hint: "give them a time, or delete them, then rerun")
        }
        let rows = try db.query("SELECT greatest(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = \(text: table.name.quoted)::regclass").single("rows").int("n")
        let (indexes, local) = try indexDefinitions(table)
        return Plan(table: table.name.description, alreadyPartitioned: false, oldPartition: oldName.description, upperBound: upper, rows: rows,
                    steps: [
                        "CREATE UNIQUE INDEX CONCURRENTLY on \(table.name) (\(table.idColumn.name), \(timestamp.name)) (a scan; inserts go on)",
                        "ADD CONSTRAINT \(Self.checkName.name) CHECK (\(timestamp.name) < \(Timestamps.iso(upper))) NOT VALID, then VALIDATE (a scan; inserts go on)",
                        "one transaction under lock_timeout \(lockTimeoutMilliseconds) ms: rename to \(oldName.name.name), create the partitioned \(table.name), move the id sequence, grants and \(indexes.count) index(es), attach \(oldName.name.name) FOR VALUES FROM (MINVALUE) TO (\(Timestamps.iso(upper)))",
                        "create the \(layout.interval) partitions from \(Timestamps.iso(upper)) through now + \(layout.ahead)",
                    ],
                    indexes: indexes, localUniqueIndexes: local)
    }

    /// What the parent could not carry as the old table did: refused, named, rather than silently changed.
    func refuseWhatWouldChangeMeaning(_ table: TablePolicy) throws {
        let relation: SQL = "\(text: table.name.quoted)::regclass"
        var problems: [String] = []
        for row in try db.query("SELECT conname, contype::text AS type, conrelid::regclass::text AS owner FROM pg_constraint WHERE contype = 'f' AND (conrelid = \(relation) OR confrelid = \(relation))").rows {
            problems.append("foreign key \(try row.string("conname")) on \(try row.string("owner"))")
        }
        for row in try db.query("SELECT tgname FROM pg_trigger WHERE tgrelid = \(relation) AND NOT tgisinternal").rows { problems.append("trigger \(try row.string("tgname"))") }
        for row in try db.query("SELECT rulename FROM pg_rules WHERE (schemaname || '.' || tablename)::regclass = \(relation)").rows { problems.append("rule \(try row.string("rulename"))") }
        for row in try db.query("SELECT polname FROM pg_policy WHERE polrelid = \(relation)").rows { problems.append("row security policy \(try row.string("polname"))") }
        for row in try db.query("""
            SELECT DISTINCT v.oid::regclass::text AS view FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
            WHERE d.refobjid = \(relation) AND d.classid = 'pg_rewrite'::regclass AND v.oid <> \(relation)
            """).rows { problems.append("view \(try row.string("view"))") }
        for row in try db.query("SELECT attname FROM pg_attribute WHERE attrelid = \(relation) AND attidentity <> '' AND NOT attisdropped").rows {
            problems.append("identity column \(try row.string("attname")) (a serial/sequence default is moved; an identity would restart)")
        }
        guard problems.isEmpty else {
            throw LetheError.config("\(table.name) cannot be partitioned in place: \(problems.joined(separator: ", ")) would stay on the old table only",
                                    hint: "drop or re-create them on the partitioned table yourself, or convert it with pg_partman's offline tools; nothing was changed")
        }
    }

    /// The upper bound an interrupted run already validated, read back from its CHECK.
    func existingUpper(_ table: TablePolicy) throws -> Date? {
        guard let row = try db.query("""
            SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = \(text: table.name.quoted)::regclass AND conname = \(text: Self.checkName.name)
            """).first else { return nil }
        let definition = try row.string("def")
        if table.timestampType == .epochSeconds {
            // `CHECK (((time IS NOT NULL) AND (time < 1764547200)))`: whole epoch seconds.
            if let start = definition.range(of: "< "), let seconds = Int64(definition[start.upperBound...].prefix { $0.isNumber || $0 == "-" }) {
                return Date(timeIntervalSince1970: TimeInterval(seconds))
            }
        }
        guard let start = definition.range(of: "< '"), let end = definition[start.upperBound...].firstIndex(of: "'"),
              let upper = PostgresTimestamp.parse(String(definition[start.upperBound..<end]) + (definition[start.upperBound..<end].contains("+") ? "" : "+00")) else {
            throw LetheError.config("\(table.name) has a constraint \(Self.checkName.name) whose bound Lethe cannot read (\(definition))",
                                    hint: "it is not one an interrupted 'lethe partitions adopt' left: drop it (ALTER TABLE \(table.name) DROP CONSTRAINT \(Self.checkName.name)), then rerun")
        }
        return upper
    }

    /// The old table's indexes the parent gets (non-unique ones, and unique ones that include the timestamp), as
    /// PostgreSQL prints them, and the unique ones that stay local.
    func indexDefinitions(_ table: TablePolicy) throws -> ([String], [String]) {
        let rows = try db.query("""
            SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, i.indisunique AS is_unique,
                   EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attname = \(text: table.timestampColumn?.name ?? "") AND a.attnum = ANY (i.indkey::int2[])) AS has_key
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = \(text: table.name.quoted)::regclass AND c.relname <> \(text: Self.keyIndexName(table).name) ORDER BY c.relname
            """).rows
        var shared: [String] = [], local: [String] = []
        for row in rows {
            if try row.bool("is_unique") && !row.bool("has_key") { local.append(try row.string("name")) } else { shared.append(try row.string("def")) }
        }
        return (shared, local)
    }

    static func keyIndexName(_ table: TablePolicy) -> SQLIdentifier {
        try! SQLIdentifier(String(table.name.name.name.prefix(45)) + "_lethe_adopt_key")
    }

    public struct Outcome: Sendable, Encodable {
        public var createdPartitions = 0
        public var oldPartition = ""
    }

    /// Runs the plan's steps, each skipped when a killed earlier run already did it.
    public func execute(_ plan: Plan, table: TablePolicy, policy: RetentionPolicy, now: Date, logger: (String) -> Void) throws -> Outcome {
        guard !plan.alreadyPartitioned, let time = TimeColumn(table) else { return Outcome(oldPartition: plan.oldPartition) }
        let timestamp = time.name
        let retry = LockTimeoutRetry(attempts: 50)
        let key = Self.keyIndexName(table)
        let keyIndex = QualifiedName(schema: table.name.schema, name: key)
        // 1. The parent's unique key, built without blocking writers; an index a killed build left invalid is rebuilt.
        if let valid = try db.query("SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass(\(text: keyIndex.quoted))").first?.bool("valid"), !valid {
            try db.execute("DROP INDEX CONCURRENTLY \(keyIndex)")
        }
        logger("building the unique key (\(table.idColumn.name), \(timestamp.name)) concurrently")
        try db.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \(key) ON \(table.name) (\(table.idColumn), \(timestamp))")
        // 2. The CHECK that lets the attach skip its scan.
        if try existingUpper(table) == nil {
            try retry.transaction(db, "adding \(Self.checkName.name) to \(table.name)") {
                try db.setLockTimeout(milliseconds: lockTimeoutMilliseconds, local: true)
                try db.execute("ALTER TABLE \(table.name) ADD CONSTRAINT \(Self.checkName) CHECK (\(timestamp) IS NOT NULL AND \(timestamp) < \(time.boundLiteral(plan.upperBound))) NOT VALID")
            }
        }
        logger("validating \(Self.checkName.name) (a scan; inserts go on)")
        try db.execute("ALTER TABLE \(table.name) VALIDATE CONSTRAINT \(Self.checkName)")
        // 3. The switch, in one short transaction.
        let old = try QualifiedName(parsing: plan.oldPartition)
        let sequences = try db.query("""
            SELECT n.nspname, s.relname, a.attname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
            JOIN pg_namespace n ON n.oid = s.relnamespace JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE d.refobjid = \(text: table.name.quoted)::regclass AND d.deptype = 'a'
            """).rows.map { row in
                (QualifiedName(schema: try SQLIdentifier(catalog: row.string("nspname")), name: try SQLIdentifier(catalog: row.string("relname"))),
                 try SQLIdentifier(catalog: row.string("attname")))
            }
        try retry.transaction(db, "partitioning \(table.name)") {
            try db.setLockTimeout(milliseconds: lockTimeoutMilliseconds, local: true)
            try db.execute("ALTER TABLE \(table.name) RENAME TO \(old.name)")
            try db.execute("""
                CREATE TABLE \(table.name) (LIKE \(old) INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)
                PARTITION BY RANGE (\(timestamp))
                """)
            // The copied CHECK would refuse every later row: it belongs to the old table alone.
            try db.execute("ALTER TABLE \(table.name) DROP CONSTRAINT \(Self.checkName)")
            try db.execute("ALTER TABLE \(table.name) ADD CONSTRAINT \(try SQLIdentifier(String(table.name.name.name.prefix(50)) + "_lethe_key")) UNIQUE (\(table.idColumn), \(timestamp))")
            for (number, definition) in plan.indexes.enumerated() {
                // PostgreSQL's own definition of the old table's index, re-aimed at the parent (ON ONLY: the old table's
                // index is attached to it by the ATTACH below, not built again).
                guard let on = definition.range(of: " ON "), let using = definition.range(of: " USING ", range: on.upperBound..<definition.endIndex) else { continue }
                let name = try SQLIdentifier(String(table.name.name.name.prefix(40)) + "_lethe_i\(number)")
                try db.execute("CREATE INDEX \(name) ON ONLY \(table.name)\(unsafeRaw: String(definition[using.lowerBound...]))")
            }
            for (sequence, column) in sequences {
                try db.execute("ALTER SEQUENCE \(sequence) OWNED BY \(table.name).\(column)")
            }
            try db.execute("SELECT lethe.inherit_parent_privileges(\(text: old.quoted)::regclass, \(text: table.name.quoted)::regclass)")
            try db.execute("ALTER TABLE \(table.name) ATTACH PARTITION \(old) FOR VALUES FROM (MINVALUE) TO (\(time.boundLiteral(plan.upperBound)))")
        }
        // 4. The interval partitions after the old one.
        logger("creating the interval partitions")
        let catalog = PartitionCatalog()
        var created = try catalog.ensure(db, policy: policy, now: now).created
        // At least the interval after the old partition's bound, whatever the policy's `ahead`: rows arrive there first.
        if let layout = table.partitioning {
            let through = layout.interval.next(after: plan.upperBound).timeIntervalSince(now)
            created += try catalog.ensure(db, policy: policy, now: now, from: plan.upperBound, ahead: ISODuration(days: Int((through / 86_400).rounded(.up)))).created
        }
        return Outcome(createdPartitions: created.filter { $0.table == table.name }.count, oldPartition: old.description)
    }
}
