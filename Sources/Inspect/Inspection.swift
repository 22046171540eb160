import Backup
import Foundation
import Keys
import Ledger
import LetheCore
import LetheCrypto
import Policy
import Postgres
import Purge
import Schema
import Subject

/// `lethe inspect`: checks the live database against the promise "only what is needed to send an SMS,
/// sealed": undeclared columns and tables, unsealed personal values, missing blind indexes, overdue purges,
/// stale backups, missing partitions, overdue requests. Read-only: one read-only transaction; the catalog for
/// structure, one pass per table for values (or a TABLESAMPLE pass).
public struct Inspection {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let repositoryDirectory: String?
    /// The ledger outside the database, when one is configured: a database behind it is a finding.
    let ledger: Ledger?

    public init(_ db: PostgresConnection, policy: RetentionPolicy, repositoryDirectory: String?, ledger: Ledger? = nil) {
        self.db = db
        self.policy = policy
        self.repositoryDirectory = repositoryDirectory
        self.ledger = ledger
    }

    /// A backup older than this is stale (a daily backup plus two hours).
    public static let backupFreshness: TimeInterval = 26 * 3600
    /// Row ids listed per unsealed column.
    static let listedIds = 100

    public func run(table wanted: String? = nil, samplePercent: Double? = nil) throws -> InspectReport {
        let tables = try scope(wanted)
        try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { _ = try? db.execute("ROLLBACK") }
        let now = try DatabaseClock.now(db)
        var findings: [Finding] = []
        var awaitingEncrypt: [String: Int64] = [:]
        for table in tables {
            guard let columns = try columns(of: table.name) else { continue }
            findings += try undeclaredColumns(table, columns: columns)
            let (found, awaiting) = try values(table, columns: columns, samplePercent: samplePercent, now: now)
            findings += found
            awaitingEncrypt.merge(awaiting) { $0 + $1 }
        }
        let partman = try PgPartman(db)
        let kept = try partmanFindings(tables, partman)
        findings += kept
        if wanted == nil { findings += try undeclaredTables(except: Set(kept.map(\.subject))) }
        findings += try retentionOverdue(tables, now: now)
        findings += try partitions(tables, now: now)
        if wanted == nil {
            findings += try staleBackups(now: now)
            findings += try overdueRequests()
            findings += try ledgerFindings()
        }
        var report = InspectReport(inspectedAt: now, tables: tables.map(\.name.description), samplePercent: samplePercent ?? 100, findings: findings)
        report.awaitingEncrypt = awaitingEncrypt
        report.clearByDeclaration = tables.flatMap { table in table.clearPersonalColumns.map { "\(table.name).\($0.name)" } }
        let inspected = Set(tables.map(\.name.description))
        report.notEnforced = try SealedConstraints(db, policy: policy).status().filter { $0.state != .enforced && inspected.contains($0.table) }
            .map { "\($0.table).\($0.column)" }
        return report
    }

    private func scope(_ wanted: String?) throws -> [TablePolicy] {
        guard let wanted else { return policy.tables }
        guard let table = policy.table(named: wanted) else {
            throw LetheError.noInput("table \(wanted) is not in \(policy.source)",
                                     hint: "tables of the policy: \(policy.tables.map(\.name.description).joined(separator: ", "))")
        }
        return [table]
    }

    /// The table's columns, or nil when it does not exist (`policy check` reports that).
    private func columns(of table: QualifiedName) throws -> [String]? {
        let names = try db.query("""
            SELECT a.attname AS name FROM pg_attribute a
            WHERE a.attrelid = to_regclass(\(.text(table.quoted))) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """).rows.map { try $0.string("name") }
        return names.isEmpty ? nil : names
    }

    /// Each undeclared column with the rows holding a value in it (a scan of that column only; such columns are rare).
    private func undeclaredColumns(_ table: TablePolicy, columns: [String]) throws -> [Finding] {
        let declared = table.declaredColumns
        return try columns.filter { !declared.contains($0) }.map { name in
            let column = try SQLIdentifier(catalog: name)
            let rows = try db.query("SELECT count(\(column)) AS n FROM \(table.name)").single("count").int("n")
            return Finding(kind: .undeclaredColumn, subject: "\(table.name).\(name)", what: "column not declared in the policy", rows: rows,
                           hint: "declare it in \(policy.source) (operational: if it holds no personal data, personal: if it does), or drop it")
        }
    }

    /// One pass over the table for every personal column: values that are not a Lethe envelope of a known
    /// version (a check of the header bytes; `lethe encrypt verify` is the cryptographic one), and blind
    /// indexes missing beside a value. While the worker's `encrypt` job is scheduled, clear values written since its
    /// last expected run (by the table's timestamp) are not findings but "awaiting the encrypt job": foreign writers
    /// keep writing clear text, and that job seals it.
    private func values(_ table: TablePolicy, columns: [String], samplePercent: Double?, now: Date) throws -> ([Finding], [String: Int64]) {
        let personal = table.personalColumns.filter { columns.contains($0.name) }
        guard !personal.isEmpty else { return ([], [:]) }
        let forms = try SealedColumnForm.load(db, table)
        let lateness = policy.schedule[.encrypt].flatMap { $0.isOff ? nil : $0.allowedLateness(at: now) }
        let recent: SQL? = lateness.flatMap { seconds in
            TimeColumn(table).map { "\($0.name) >= \($0.bound("\(.timestamp(now.addingTimeInterval(-seconds)))"))" }
        }
        func unsealedOlder(_ column: SQLIdentifier) -> SQL {
            let base = Self.unsealed(column, customer: CustomerKey.sql(table), form: forms[column] ?? .binary)
            return recent.map { "\(base) AND NOT coalesce(\($0), false)" } ?? base
        }
        let sample: SQL = samplePercent.map { " TABLESAMPLE SYSTEM (\(literal: $0))" } ?? ""
        var aggregates: [SQL] = []
        for column in personal {
            aggregates.append("count(*) FILTER (WHERE \(unsealedOlder(column))) AS \(try SQLIdentifier("u_" + column.name))")
            if let recent {
                let base = Self.unsealed(column, customer: CustomerKey.sql(table), form: forms[column] ?? .binary)
                aggregates.append("count(*) FILTER (WHERE \(base) AND \(recent)) AS \(try SQLIdentifier("a_" + column.name))")
            }
            if let index = table.blindIndexes[column], columns.contains(index.name) {
                // A shredded customer's blind indexes are removed on purpose (its values can no longer be opened).
                let shredded: SQL = CustomerKey.sql(table).map {
                    " AND \($0) NOT IN (SELECT customer_id FROM lethe.customer_keys WHERE shredded_at IS NOT NULL)"
                } ?? ""
                // A clear value awaiting the encrypt job gets its index when that job seals it.
                let awaiting: SQL = recent.map { " AND NOT coalesce(\($0), false)" } ?? ""
                aggregates.append("count(*) FILTER (WHERE \(column) IS NOT NULL AND \(index) IS NULL\(shredded)\(awaiting)) AS \(try SQLIdentifier("b_" + column.name))")
            }
        }
        let counts = try db.query("SELECT \(aggregates.joined(separator: ", ")) FROM \(table.name)\(sample)").single("values")
        let scaled = samplePercent.map { " (in a \($0)% sample)" } ?? ""
        var findings: [Finding] = []
        for column in personal {
            let unsealed = try counts.int("u_" + column.name)
            if unsealed > 0 {
                let ids = try db.query("""
                    SELECT \(table.idColumn) AS id FROM \(table.name)\(sample) WHERE \(unsealedOlder(column))
                    ORDER BY 1 LIMIT \(Self.listedIds)
                    """).rows.compactMap { try $0.optionalInt("id") }  // a row without an id is counted above, not listed
                findings.append(Finding(kind: .unsealedValue, subject: "\(table.name).\(column.name)",
                                        what: "personal values that are not sealed envelopes\(scaled)", rows: unsealed,
                                        hint: "lethe encrypt migrate --table \(table.name) --column \(column.name) --from plaintext (or aes-128-cbc)",
                                        rowIds: ids))
            }
            if let index = table.blindIndexes[column], columns.contains(index.name) {
                let missing = try counts.int("b_" + column.name)
                if missing > 0 {
                    findings.append(Finding(kind: .missingBlindIndex, subject: "\(table.name).\(index.name)",
                                            what: "blind index missing beside a \(column.name) value\(scaled)", rows: missing,
                                            hint: "these rows cannot be found for an access or erasure request; write them through 'lethe import', or reseal with 'lethe encrypt migrate'"))
                }
            }
        }
        var awaiting: [String: Int64] = [:]
        if recent != nil {
            for column in personal {
                let n = try counts.int("a_" + column.name)
                if n > 0 { awaiting["\(table.name).\(column.name)"] = n }
            }
        }
        return (findings, awaiting)
    }

    /// SQL true for a non-null value that is not an envelope: too short, without the header (`LTH` and a readable
    /// version; in a `text` column, `lethe:v2:` and well-formed base64 of such an envelope), or naming a data key its
    /// customer does not have. Inspect holds no key, so it judges by structure; a plaintext that happens to begin
    /// with the header bytes still fails the key check (`encrypt verify` and `encrypt migrate` decide by opening).
    static func unsealed(_ column: SQLIdentifier, customer: SQL?, form: SealedColumnForm = .binary) -> SQL {
        let minimum = Envelope.headerSize + AESGCM.tagSize
        let shaped: SQL, envelope: SQL
        switch form {
        case .binary:
            shaped = "length(\(column)) >= \(literal: Int64(minimum)) AND \(Envelope.hasSealedHeader(column))"
            envelope = "\(column)"
        case .text:
            // Base64 of at least `minimum` bytes, in whole groups of four: only then is decode() safe to call.
            let digits = (minimum + 2) / 3 * 4
            shaped = "\(Envelope.hasSealedHeader(column, form: .text)) AND \(column) ~ \(text: "^lethe:v[0-9]:[A-Za-z0-9+/]{\(digits - 2),}={0,2}$") "
                + "AND (length(\(column)) - 9) % 4 = 0"
            envelope = "decode(substring(\(column) FROM 10), 'base64')"
        }
        let keyOfCustomer: SQL = customer.map { customer in
            " AND EXISTS (SELECT 1 FROM lethe.customer_keys k WHERE k.customer_id = coalesce(\(customer), \(CustomerKey.withoutCustomer)) "
                + "AND k.key_id = ('x' || encode(substring(\(envelope) FROM 5 FOR 8), 'hex'))::bit(64)::bigint)"
        } ?? ""
        // CASE, not AND: the key check decodes the value, which only a well-shaped one survives.
        return "\(column) IS NOT NULL AND NOT CASE WHEN \(shaped) THEN true\(keyOfCustomer) ELSE false END"
    }

    /// pg_partman's retention at odds with the policy's, and the tables it detached and kept.
    private func partmanFindings(_ tables: [TablePolicy], _ partman: PgPartman) throws -> [Finding] {
        var findings: [Finding] = []
        for table in tables where partman.manages(table.name) != nil {
            for problem in try partman.retentionProblems(table, db: db) {
                findings.append(Finding(kind: .partmanRetention, subject: table.name.description, what: problem.what, rows: nil, hint: problem.hint))
            }
            for kept in try partman.keptTables(of: table.name, db: db) {
                findings.append(Finding(kind: .partmanKeptTable, subject: kept.name.description,
                                        what: "a partition pg_partman detached from \(table.name) and kept as a table: no purge reaches its rows", rows: kept.rows,
                                        hint: "check it holds nothing under legal hold ('lethe hold list'), then DROP TABLE \(kept.name); and set retention_keep_table = false"))
            }
        }
        return findings
    }

    /// Tables in the policy's schemas that the policy does not list; partitions count as their parent, Lethe's own
    /// schema is exempt, and so are `exempt` (tables already reported as what they are).
    private func undeclaredTables(except exempt: Set<String> = []) throws -> [Finding] {
        try PolicyDatabaseCheck().undeclaredTables(policy, db: db).filter { !exempt.contains($0.name.description) }.map { table in
            // A duty login may not read a table outside the policy (roles apply grants the policy's tables only).
            let count = table.readable ? try db.query("SELECT count(*) AS n FROM \(table.name)").single("count").int("n") : nil
            return Finding(kind: .undeclaredTable, subject: table.name.description,
                           what: "table not declared in the policy: never purged, not backed up" + (table.readable ? "" : " (rows not readable by this login)"),
                           rows: count, hint: "declare it in \(policy.source) with its retention and personal columns, or drop it")
        }
    }

    /// What a purge's final check counts, less what crossed its cutoff since the last scheduled purge (issue 30,
    /// defect 5: under live traffic rows cross their cutoff every second): rows past their customer's cutoff,
    /// outside legal holds, by more than the purge schedule's allowed lateness (a day and two hours when daily,
    /// or when the worker does not schedule the purge and cron runs it).
    private func retentionOverdue(_ tables: [TablePolicy], now: Date) throws -> [Finding] {
        let names = Set(tables.map(\.name.description))
        let lateness = policy.schedule[.purge].flatMap { $0.isOff ? nil : $0.allowedLateness(at: now) } ?? 26 * 3600
        var byTable: [String: Int64] = [:]
        for finding in try PurgeJob(db, policy: policy).overdueRows(slack: lateness) where names.contains(finding.table) {
            byTable[finding.table, default: 0] += finding.rows
        }
        return byTable.sorted { $0.key < $1.key }.map { table, rows in
            Finding(kind: .retentionOverdue, subject: table, what: "rows past their customer's retention by more than the purge schedule allows, outside legal holds", rows: rows,
                    hint: "lethe purge (and check that the worker or cron runs it daily: lethe status)")
        }
    }

    /// Holes in a table's layout (from its first partition, or its oldest retained instant, on), partitions that do
    /// not reach as far ahead as the policy asks, and rows sitting in a DEFAULT partition.
    private func partitions(_ tables: [TablePolicy], now: Date) throws -> [Finding] {
        let catalog = PartitionCatalog()
        var findings: [Finding] = []
        for table in tables where table.timestampColumn != nil {
            guard try catalog.isPartitioned(db, table.name) else { continue }
            let partitions = try catalog.partitions(of: table, db)
            let layout = table.effectivePartitioning
            let wanted = layout.ahead.added(to: now)
            let live = partitions.filter { !$0.detachPending }
            let continuous = PartitionGapPlan.continuousFrom(existing: partitions, now: now, table: table)
            let current = layout.interval.start(containing: now)
            let gaps = PartitionGapPlan(interval: layout.interval, from: min(continuous, now), through: wanted, existing: live)
            let holes = gaps.coalesced(before: current).filter { $0.from < current }
            if let first = holes.first {
                let fallsTo = partitions.contains(where: \.isDefault) ? "rows there go to the DEFAULT partition" : "inserts there fail"
                findings.append(Finding(kind: .partitionHole, subject: table.name.description,
                                        what: "no partition covers \(first)\(holes.count > 1 ? " and \(holes.count - 1) more range(s)" : ""): \(fallsTo)",
                                        rows: nil, hint: layout.create ? "lethe partitions ensure (it fills holes from the first partition on)"
                                                                       : "the tool that makes this table's partitions (partitioning.create: false) left a hole"))
            }
            if let first = gaps.missing.first(where: { $0.from >= current }) {
                findings.append(Finding(kind: .partitionsAhead, subject: table.name.description,
                                        what: "partitions do not cover \(Timestamps.iso(first.from)) onwards; the policy asks for \(layout.ahead) ahead",
                                        rows: nil, hint: layout.create ? "lethe partitions ensure" : "the tool that makes this table's partitions (partitioning.create: false) is behind"))
            }
            for partition in partitions where partition.isDefault {
                let rows = try db.query("SELECT count(*) AS n FROM \(partition.name)").single("count").int("n")
                if rows > 0 {
                    findings.append(Finding(kind: .defaultPartitionRows, subject: partition.name.description,
                                            what: "rows in the DEFAULT partition, which no partition drop reaches", rows: rows,
                                            hint: "lethe partitions ensure --from the oldest row's day, then move the rows into their partitions"))
                }
            }
        }
        return findings
    }

    private func ledgerFindings() throws -> [Finding] {
        guard let ledger else { return [] }
        let comparison = try ledger.compare(db)
        switch comparison.state {
        case .inStep: return []
        case .databaseBehind:
            return [Finding(kind: .databaseBehindLedger, subject: ledger.root,
                            what: "the database lacks \(comparison.missing.count) ledger record(s) (\(comparison.missing.map(\.entry.action.rawValue).joined(separator: ", "))): it was restored from a physical backup or snapshot, or a run crashed before its commit",
                            rows: nil, hint: "lethe reconcile (the worker runs it on its own before any job)")]
        case .ledgerBehind, .diverged:
            return [Finding(kind: .ledgerBehindDatabase, subject: ledger.root,
                            what: comparison.state == .diverged ? "the ledger and the database disagree at record \(comparison.databasePosition)"
                                : "the ledger holds \(comparison.ledgerPosition) record(s), the database applied \(comparison.databasePosition): a stale or lost ledger copy",
                            rows: nil, hint: "put the current ledger back from its off-host copy (Lethe never deletes anything to match a ledger)")]
        }
    }

    private func staleBackups(now: Date) throws -> [Finding] {
        guard let repositoryDirectory else { return [] }
        let entries = try BackupRepository(directory: repositoryDirectory).list().filter(\.hasManifest)
        guard let newest = entries.map(\.createdAt).max() else {
            return [Finding(kind: .staleBackup, subject: repositoryDirectory, what: "no complete backup in the repository", rows: nil, hint: "lethe backup")]
        }
        guard now.timeIntervalSince(newest) > Self.backupFreshness else { return [] }
        let hours = Int(now.timeIntervalSince(newest) / 3600)
        return [Finding(kind: .staleBackup, subject: repositoryDirectory, what: "newest backup is \(hours) hours old (\(Timestamps.iso(newest)))",
                        rows: nil, hint: "lethe backup (and check the backup job: lethe status)")]
    }

    private func overdueRequests() throws -> [Finding] {
        let overdue = try RequestRegister(db).overdue()
        guard !overdue.isEmpty else { return [] }
        return [Finding(kind: .requestsOverdue, subject: "requests", what: "data-subject requests past their due date (\(overdue.map { "#\($0.id)" }.joined(separator: ", ")))",
                        rows: Int64(overdue.count), hint: "lethe requests list --open")]
    }
}
