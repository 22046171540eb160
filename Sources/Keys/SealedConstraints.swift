import Audit
import Foundation
import LetheCore
import Policy
import Postgres

/// `lethe constraints apply|check` (issue 31): the database itself refuses a clear-text personal value. Each
/// personal column of the policy (not those kept in clear by declaration) gets `CHECK (column IS NULL OR <envelope
/// header>)`, named `lethe_sealed_<column>`: added `NOT VALID` in a short transaction under `lock_timeout` (retried),
/// then validated with `VALIDATE CONSTRAINT`, which takes SHARE UPDATE EXCLUSIVE, so writers never wait on the scan.
/// A plain `INSERT` of a clear body by the application's login then fails in PostgreSQL (SQLSTATE 23514).
public struct SealedConstraints {
    let db: PostgresConnection
    let policy: RetentionPolicy

    public init(_ db: PostgresConnection, policy: RetentionPolicy) {
        self.db = db
        self.policy = policy
    }

    public struct Column: Sendable, Encodable, Equatable {
        public enum State: String, Sendable, Encodable {
            /// The CHECK is there and validated: every row, old and new, is an envelope or NULL.
            case enforced
            /// Added, not yet validated: new rows are checked, old ones not proven.
            case notValidated = "not_validated"
            case missing
        }

        public let table: String
        public let column: String
        public let constraint: String
        public var state: State
        /// Values that are not envelopes (counted by `apply`, which refuses while any remains).
        public var unsealed: Int64?
    }

    public struct Report: Sendable, Encodable {
        public let dryRun: Bool
        public var columns: [Column]
        public var added: [String] = []
        public var validated: [String] = []
    }

    /// `lethe_sealed_<column>`, cut to PostgreSQL's 63 bytes.
    static func constraintName(_ column: SQLIdentifier) -> SQLIdentifier {
        (try? SQLIdentifier(String(decoding: Array(("lethe_sealed_" + column.name).utf8.prefix(63)), as: UTF8.self))) ?? (try! SQLIdentifier("lethe_sealed"))
    }

    /// Every sealed personal column of the policy that exists, with its constraint's state.
    public func status() throws -> [Column] {
        var columns: [Column] = []
        for table in policy.tables where !table.personalColumns.isEmpty {
            guard try db.query("SELECT to_regclass(\(text: table.name.quoted)) IS NOT NULL AS e").single("table").bool("e") else { continue }
            let forms = try SealedColumnForm.load(db, table)
            for column in table.personalColumns where forms[column] != nil {
                let name = Self.constraintName(column)
                let row = try db.query("""
                    SELECT convalidated FROM pg_constraint WHERE conrelid = \(text: table.name.quoted)::regclass AND conname = \(text: name.name) AND contype = 'c'
                    """).first
                let state: Column.State = try row.map { try $0.bool("convalidated") ? .enforced : .notValidated } ?? .missing
                columns.append(Column(table: table.name.description, column: column.name, constraint: name.name, state: state))
            }
        }
        return columns
    }

    /// Adds and validates every missing constraint. Refused (78, nothing changed) while any personal value is not an
    /// envelope, naming the counts: `lethe encrypt migrate` seals them first.
    public func apply(dryRun: Bool, lockTimeoutMilliseconds: Int = 200, logger: (String) -> Void = { _ in }) throws -> Report {
        var columns = try status()
        // Each table's column forms read once, for the count and for the constraint.
        var forms: [String: [SQLIdentifier: SealedColumnForm]] = [:]
        func form(_ table: TablePolicy, _ column: SQLIdentifier) throws -> SealedColumnForm {
            if forms[table.name.description] == nil { forms[table.name.description] = try SealedColumnForm.load(db, table) }
            return forms[table.name.description]?[column] ?? .binary
        }
        for index in columns.indices where columns[index].state != .enforced {
            let (table, column) = try locate(columns[index])
            let form = try form(table, column)
            columns[index].unsealed = try db.query("""
                SELECT count(*) AS n FROM \(table.name) WHERE \(column) IS NOT NULL AND NOT (\(Envelope.hasSealedHeader(column, form: form)))
                """).single("count").int("n")
        }
        let unsealed = columns.filter { ($0.unsealed ?? 0) > 0 }
        guard unsealed.isEmpty else {
            throw LetheError.config("\(unsealed.map { "\($0.table).\($0.column): \($0.unsealed ?? 0) value(s) not sealed" }.joined(separator: "; ")); no constraint was added",
                                    hint: "seal them first: lethe encrypt migrate --table T --column C --from plaintext (or aes-128-cbc), then rerun")
        }
        var report = Report(dryRun: dryRun, columns: columns)
        guard !dryRun else { return report }
        let retry = LockTimeoutRetry(attempts: 50)
        for index in report.columns.indices where report.columns[index].state != .enforced {
            let entry = report.columns[index]
            let (table, column) = try locate(entry)
            let form = try form(table, column)
            let name = Self.constraintName(column)
            if entry.state == .missing {
                logger("adding \(name.name) to \(table.name) (NOT VALID, under lock_timeout \(lockTimeoutMilliseconds) ms)")
                try retry.transaction(db, "adding \(name.name) to \(table.name)") {
                    try db.setLockTimeout(milliseconds: lockTimeoutMilliseconds, local: true)
                    try db.execute("ALTER TABLE \(table.name) ADD CONSTRAINT \(name) CHECK (\(column) IS NULL OR \(Envelope.hasSealedHeader(column, form: form))) NOT VALID")
                }
                report.added.append("\(entry.table).\(entry.column)")
            }
            logger("validating \(name.name) on \(table.name) (a scan; writers go on)")
            do {
                try db.execute("ALTER TABLE \(table.name) VALIDATE CONSTRAINT \(name)")
            } catch let error as PostgresError where error.sqlState == "23514" {
                throw LetheError.config("\(entry.table).\(entry.column): a clear value was written while the constraint was being added; it stays NOT VALID (new rows are checked)",
                                        hint: "seal it (lethe encrypt migrate --table \(entry.table) --column \(entry.column) --from plaintext), then rerun 'lethe constraints apply'")
            }
            report.columns[index].state = .enforced
            report.validated.append("\(entry.table).\(entry.column)")
        }
        if !report.added.isEmpty || !report.validated.isEmpty {
            try AuditLog.append(db, action: "constraints.apply", target: "sealed columns", details: [
                "added": .array(report.added.map { .string($0) }), "validated": .array(report.validated.map { .string($0) }),
            ])
        }
        return report
    }

    private func locate(_ entry: Column) throws -> (TablePolicy, SQLIdentifier) {
        guard let table = policy.table(named: entry.table), let column = table.personalColumns.first(where: { $0.name == entry.column }) else {
            throw LetheError.software("\(entry.table).\(entry.column) is not in the policy")
        }
        return (table, column)
    }
}
