import LetheCore

/// A validated retention policy (Policies/*.yaml): which tables hold what, how long, and the texts a
/// DPO export needs. Built only by `PolicyLoader`, so every value here has passed validation.
public struct RetentionPolicy: Sendable {
    /// Where it was read from, for messages.
    public let source: String
    /// The file's exact bytes: their hash identifies the policy in ledgers and backups.
    public let sourceBytes: [UInt8]
    public let version: Int
    /// Region for phone numbers written without a country code (ISO 3166 alpha-2).
    public let defaultRegion: String
    /// Longest message accepted, in SMS segments.
    public let maxSegments: Int
    /// Bits kept of each blind-index HMAC (documented trade-off: fewer bits, more false candidates).
    public let blindIndexBits: Int
    public let tables: [TablePolicy]
    public let backup: BackupPolicy
    public let dpo: DPOTexts

    public func table(named name: String) -> TablePolicy? {
        tables.first { $0.name.description == name || $0.name.name.name == name }
    }

    /// Tables where a data subject is found through a blind index.
    public var subjectTables: [TablePolicy] { tables.filter { !$0.blindIndexes.isEmpty } }

    /// Tables whose rows follow those of `parent` (subject_via).
    public func tables(linkedTo parent: TablePolicy) -> [TablePolicy] { tables.filter { $0.subjectVia?.table == parent.name } }

    /// Tables purged by age (those with a timestamp column).
    public var retentionTables: [TablePolicy] { tables.filter { $0.retention != nil } }
}

public struct TablePolicy: Sendable {
    public let name: QualifiedName
    /// Row identity, for reports and integrity errors. Default `id`.
    public let idColumn: SQLIdentifier
    /// The column retention counts from; nil for account data kept while the account lives.
    public let timestampColumn: SQLIdentifier?
    /// The column naming the customer that owns each row (nil for `sms.customers` itself).
    public let customerColumn: SQLIdentifier?
    /// The table's own retention, never above the ceiling; nil when not purged by age.
    public let retention: ISODuration?
    public let personalColumns: [SQLIdentifier]
    /// Personal column -> column holding its blind index.
    public let blindIndexes: [SQLIdentifier: SQLIdentifier]
    public let intake: IntakePolicy?
    /// Included in `lethe backup`.
    public let backup: Bool
    /// Category of data, as the DPO cover sheet names it.
    public let category: String?
    /// Rows about a data subject found through another table (delivery reports through their message).
    public let subjectVia: SubjectLink?
    /// 1-based line of the table's entry in the policy file.
    public let line: Int
}

/// `subject_via: { table: sms.messages, column: message_id }`: a row of this table is about the person of the
/// row of `table` whose id is in `column`.
public struct SubjectLink: Sendable, Equatable {
    public let table: QualifiedName
    public let column: SQLIdentifier
}

public struct IntakePolicy: Sendable, Equatable {
    /// The import kind: `lethe import <name>`.
    public let name: String
    public let required: [String]
    public let allowed: [String]

    public init(name: String, required: [String], allowed: [String]) {
        self.name = name
        self.required = required
        self.allowed = allowed
    }
}

public struct BackupPolicy: Sendable {
    /// How long backups are kept; never above the ceiling.
    public let keep: ISODuration
    /// Repository directory when neither --repo nor LETHE_BACKUP_REPO is given.
    public let repository: String?
}

public struct DPOTexts: Sendable {
    public let controller: String
    public let contact: String
    public let purposes: [String]
    public let recipients: [String]
    public let source: String
    public let rights: String
    public let authority: String
}
