import Foundation
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
    /// When the worker runs each job (UTC); every job has an entry, defaults filled in.
    public let schedule: [JobName: ScheduleExpression]
    /// How strictly phone numbers are checked at intake and normalised for lookups.
    public let phoneValidation: PhoneValidationPolicy
    /// The clients of `lethe serve` (`serve:`); none by default, and then the service answers nobody.
    public var serve = ServePolicy()

    public func table(named name: String) -> TablePolicy? {
        tables.first { $0.name.description == name || $0.name.name.name == name }
    }

    /// Tables where a data subject is found through a blind index.
    public var subjectTables: [TablePolicy] { tables.filter { !$0.blindIndexes.isEmpty || !$0.clearPhoneColumns.isEmpty } }

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
    /// Partition layout; nil when the policy does not say (`PartitioningPolicy.unspecified` then applies).
    public let partitioning: PartitioningPolicy?
    /// Non-personal columns the platform needs to operate (`operational: [status, operator_code]`).
    public let operationalColumns: [SQLIdentifier]
    /// 1-based line of the table's entry in the policy file.
    public let line: Int
    /// How a `timestamp without time zone` column is read (`timestamp_zone: UTC`, the only zone accepted): nil for
    /// a `timestamptz` column.
    public var timestampZone: String? = nil
    /// Personal columns the application must keep in clear (a queue it reads back): never sealed, but exported,
    /// erased with their rows, purged, and listed by `inspect` as clear by declaration (`personal_clear:`).
    public var clearPersonalColumns: [SQLIdentifier] = []
    /// Those of them holding the person's phone number, as the application wrote it (`phone_clear:`): export and
    /// erasure find rows by them, normalising each value with the policy's phone rules.
    public var clearPhoneColumns: [SQLIdentifier] = []
    /// What the customer column holds (`customer_type:`): integer ids, or account names (`text`), which Lethe
    /// keys by a fixed function of the name (`CustomerKey`), so overrides, holds and data keys work on them alike.
    public var customerType: CustomerType = .integer
    /// What the timestamp column holds (`timestamp_type:`): a timestamp, or Unix epoch seconds in an integer column
    /// (a gateway's `time bigint`), which every cutoff, bound and report converts to and from exactly.
    public var timestampType: TimestampType = .timestamptz

    /// Every column the policy accounts for: id, timestamp, customer, personal, blind-index, subject link and
    /// operational columns. `lethe inspect` reports any other column of the table.
    public var declaredColumns: Set<String> {
        var names: Set<String> = [idColumn.name]
        for column in [timestampColumn, customerColumn, subjectVia?.column].compactMap({ $0 }) { names.insert(column.name) }
        names.formUnion(personalColumns.map(\.name))
        names.formUnion(blindIndexes.values.map(\.name))
        names.formUnion(operationalColumns.map(\.name))
        names.formUnion(clearPersonalColumns.map(\.name))
        return names
    }

    /// The layout Lethe keeps for this table when PostgreSQL stores it partitioned.
    public var effectivePartitioning: PartitioningPolicy { partitioning ?? .unspecified }
}

/// `timestamp_type: timestamptz | epoch_seconds`.
public enum TimestampType: String, Sendable, Equatable {
    case timestamptz
    case epochSeconds = "epoch_seconds"
}

/// `customer_type: integer | text`.
public enum CustomerType: String, Sendable, Equatable {
    case integer
    case text
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
    /// Trusted signers' public key files (`backup.signers`), when no --signer is given.
    public let signers: [String]
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

/// `phone_validation: ranges | length` and `phone_ranges`: the trade-off between refusing numbers from ranges
/// newer than libphonenumber's metadata (`ranges`) and accepting any number of a possible length (`length`).
public struct PhoneValidationPolicy: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable { case ranges, length }

    public struct Range: Sendable, Equatable {
        /// `+` and digits: the E.164 prefix of a range the metadata lacks.
        public let prefix: String
        /// Total lengths of its numbers, in digits after the `+`.
        public let lengths: [Int]
    }

    public let mode: Mode
    public let ranges: [Range]
    /// `phone_without_plus: international`: digits without `+`, too long for a national number of the default
    /// region, are read as an international number (gateways store `33612345678`).
    public var internationalWithoutPlus = false
    /// `short_codes: accept`: a 3 to 8 digit short code (`36180`) is accepted as it is, never refused: it is a
    /// service's number, not a person's.
    public var acceptShortCodes = false

    public static let standard = PhoneValidationPolicy(mode: .length, ranges: [])
}

/// `partitioning: { interval: P1D, ahead: P30D, create: true }`: how a range-partitioned table is laid out.
public struct PartitioningPolicy: Sendable, Equatable {
    public let interval: PartitionInterval
    /// How far past the database clock partitions must already exist.
    public let ahead: ISODuration
    /// False when another tool (pg_partman, the application) creates the partitions: Lethe then only drops.
    public let create: Bool

    public init(interval: PartitionInterval, ahead: ISODuration, create: Bool) {
        self.interval = interval
        self.ahead = ahead
        self.create = create
    }

    /// For a partitioned table the policy says nothing about: the monthly layout of Lethe's first versions.
    public static let unspecified = PartitioningPolicy(interval: .month, ahead: ISODuration(months: 3), create: true)
}

extension ISODuration {
    /// `date` plus this duration on the UTC calendar (months first, then days and seconds, as PostgreSQL adds intervals).
    public func added(to date: Date) -> Date {
        Month.adding(months: months, to: date).addingTimeInterval(Double(days) * 86_400 + Double(seconds))
    }

    /// `date` minus this duration, the same way.
    public func subtracted(from date: Date) -> Date {
        Month.adding(months: -months, to: date).addingTimeInterval(-(Double(days) * 86_400 + Double(seconds)))
    }
}
