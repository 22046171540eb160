import Foundation

/// One thing `lethe inspect` found: names, counts and row ids only, never a value.
public struct Finding: Sendable, Encodable, Equatable {
    public enum Kind: String, Sendable, Encodable, CaseIterable {
        case undeclaredColumn = "undeclared_column"
        case undeclaredTable = "undeclared_table"
        case unsealedValue = "unsealed_value"
        case missingBlindIndex = "missing_blind_index"
        case retentionOverdue = "retention_overdue"
        case staleBackup = "stale_backup"
        case partitionsAhead = "partitions_ahead"
        case partitionHole = "partition_hole"
        case defaultPartitionRows = "default_partition_rows"
        case requestsOverdue = "requests_overdue"
        case partmanRetention = "partman_retention"
        case partmanKeptTable = "partman_kept_table"
        /// The database lacks ledger records (a physical restore rolled it back): `lethe reconcile`.
        case databaseBehindLedger = "database_behind_ledger"
        /// The ledger lacks records the database applied (a stale or lost ledger copy).
        case ledgerBehindDatabase = "ledger_behind_database"
    }

    public let kind: Kind
    /// `schema.table.column`, `schema.table`, the repository, or `requests`.
    public let subject: String
    public let what: String
    public let rows: Int64?
    /// The command that would fix it.
    public let hint: String
    /// Up to 100 row ids, for unsealed values (`--json` only).
    public let rowIds: [Int64]?

    public init(kind: Kind, subject: String, what: String, rows: Int64?, hint: String, rowIds: [Int64]? = nil) {
        self.kind = kind
        self.subject = subject
        self.what = what
        self.rows = rows
        self.hint = hint
        self.rowIds = rowIds
    }

    /// `KIND table.column: what, N rows`
    public var line: String {
        let noun = kind == .undeclaredColumn ? " with a value" : ""
        return "\(kind.rawValue.uppercased()) \(subject): \(what)" + (rows.map { ", \($0) row\($0 == 1 ? "" : "s")\(noun)" } ?? "")
    }
}

/// Everything one inspection found, with what it looked at.
public struct InspectReport: Sendable, Encodable {
    public let inspectedAt: Date
    public let tables: [String]
    /// Percentage of rows read by the value checks (100 unless --sample).
    public let samplePercent: Double
    public let findings: [Finding]
    /// Personal columns the policy declares kept in clear (`personal_clear`), as `schema.table.column`: not findings
    /// (the application reads them back), but listed, since they are not sealed.
    public var clearByDeclaration: [String] = []
    /// Sealed personal columns whose sealing the database does not enforce (no validated `lethe constraints apply`
    /// CHECK): the application's login could still write clear text there.
    public var notEnforced: [String] = []
    /// Personal columns that still receive clear text from other writers, `schema.table.column` -> values written
    /// since the encrypt job's last expected run (not findings while that job is scheduled: it seals them).
    public var awaitingEncrypt: [String: Int64] = [:]

    public var countsByKind: [String: Int64] {
        var counts: [String: Int64] = [:]
        for kind in Finding.Kind.allCases { counts[kind.rawValue] = 0 }
        for finding in findings { counts[finding.kind.rawValue, default: 0] += 1 }
        return counts
    }
}
