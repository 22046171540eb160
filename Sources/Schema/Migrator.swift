import LetheCore
import Policy
import Postgres

/// Applies pending migrations in order, each in one transaction with its row in
/// `lethe.schema_migrations`, and refuses a database that has drifted from this binary's files.
public struct Migrator {
    public let set: MigrationSet
    /// Whether the reference `sms` schema is wanted (the policy names an `sms` table): a database Lethe adopts
    /// gets only Lethe's own `lethe` schema.
    public let referenceSchema: Bool

    public init(set: MigrationSet, referenceSchema: Bool = true) {
        self.set = set
        self.referenceSchema = referenceSchema
    }

    /// For a policy: the reference schema only if one of its tables is in schema `sms`.
    public init(set: MigrationSet, policy: RetentionPolicy) {
        self.init(set: set, referenceSchema: Self.usesReferenceSchema(policy))
    }

    public static func usesReferenceSchema(_ policy: RetentionPolicy) -> Bool { policy.tables.contains { $0.name.schema.name == "sms" } }

    public enum State: String, Sendable {
        case applied, pending
        /// The reference schema, not applied because the policy does not use it.
        case notUsed = "not used"
    }

    private func wanted(_ migration: Migration) -> Bool { referenceSchema || !migration.isReferenceSchema }

    public struct Entry: Sendable {
        public let version: Int
        public let name: String
        public let state: State
        public let appliedAt: String?
    }

    public struct Report: Sendable {
        public let applied: [Entry]
        public let entries: [Entry]
    }

    static let bootstrap = """
        CREATE SCHEMA IF NOT EXISTS lethe;
        CREATE TABLE IF NOT EXISTS lethe.schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        );
        """

    /// Lists applied and pending migrations, after checking the applied ones against this binary.
    public func status(on db: PostgresConnection) throws -> Report {
        let exists = try db.query("SELECT to_regclass('lethe.schema_migrations') IS NOT NULL AS present").single("schema_migrations").bool("present")
        let applied = exists ? try appliedRows(db) : []
        try verify(applied)
        return Report(applied: [], entries: entries(applied: applied))
    }

    /// Applies every pending migration. Holds the migrate advisory lock for the duration.
    public func migrate(on db: PostgresConnection) throws -> Report {
        guard try db.tryAdvisoryLock(.migrate) else {
            throw LetheError(.tempFail, "another lethe migrate is running on this database", hint: "wait for it to finish, then rerun")
        }
        defer { _ = try? db.advisoryUnlock(.migrate) }
        try db.executeScript(SQL(unsafeRaw: Self.bootstrap))
        let applied = try appliedRows(db)
        try verify(applied)
        let done = Set(applied.map(\.version))
        var newlyApplied: [Entry] = []
        for migration in set.migrations where !done.contains(migration.version) && wanted(migration) {
            try db.transaction { try apply(migration, on: db) }
            newlyApplied.append(Entry(version: migration.version, name: migration.name, state: .applied, appliedAt: nil))
        }
        return Report(applied: newlyApplied, entries: entries(applied: try appliedRows(db)))
    }

    /// Applies every pending migration inside the caller's open transaction: a restore builds its target's schema
    /// and loads the data in one commit, so a restore killed at any instant leaves the target as it was.
    public func migrateInOpenTransaction(on db: PostgresConnection) throws {
        try db.executeScript(SQL(unsafeRaw: Self.bootstrap))
        let applied = try appliedRows(db)
        try verify(applied)
        let done = Set(applied.map(\.version))
        for migration in set.migrations where !done.contains(migration.version) && wanted(migration) { try apply(migration, on: db) }
    }

    /// Runs one migration and records it, in the caller's transaction.
    private func apply(_ migration: Migration, on db: PostgresConnection) throws {
        do {
            try db.executeScript(SQL(unsafeRaw: migration.sql))  // Lethe's own migrations, embedded at build time
        } catch let error as PostgresError {
            var located = error
            located.context = "applying \(set.origin)\(migration.fileName)"
            throw located
        }
        try db.execute("INSERT INTO lethe.schema_migrations (version, name, checksum) VALUES (\(.int(Int64(migration.version))), \(.text(migration.name)), \(.text(migration.checksum)))")
    }

    struct AppliedRow {
        let version: Int
        let name: String
        let checksum: String
        let appliedAt: String
    }

    private func appliedRows(_ db: PostgresConnection) throws -> [AppliedRow] {
        try db.query("SELECT version, name, checksum, applied_at::text AS applied_at FROM lethe.schema_migrations ORDER BY version").rows.map { row in
            AppliedRow(version: Int(try row.int("version")), name: try row.string("name"),
                       checksum: try row.string("checksum"), appliedAt: try row.string("applied_at"))
        }
    }

    private func verify(_ applied: [AppliedRow]) throws(LetheError) {
        let known = Dictionary(uniqueKeysWithValues: set.migrations.map { ($0.version, $0) })
        for row in applied {
            guard let migration = known[row.version] else {
                throw .config("the database has migration \(Migration.padded(row.version))_\(row.name) applied, which this lethe does not know",
                              hint: "the database was migrated by a newer lethe: upgrade this binary instead of downgrading the schema")
            }
            if migration.checksum != row.checksum {
                throw .config("\(set.origin)\(migration.fileName) has changed since it was applied on \(row.appliedAt)",
                              hint: "never edit an applied migration: restore the file and add a new NNNN_name.sql for the change")
            }
        }
    }

    private func entries(applied: [AppliedRow]) -> [Entry] {
        let appliedByVersion = Dictionary(uniqueKeysWithValues: applied.map { ($0.version, $0) })
        return set.migrations.map { migration in
            let row = appliedByVersion[migration.version]
            let state: State = row != nil ? .applied : wanted(migration) ? .pending : .notUsed
            return Entry(version: migration.version, name: migration.name, state: state, appliedAt: row?.appliedAt)
        }
    }
}

extension Migration {
    /// Zero-padded four-digit form of a version number, as in file names.
    static func padded(_ version: Int) -> String {
        let digits = String(version)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
