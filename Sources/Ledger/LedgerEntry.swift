import Foundation

/// What one ledger record says was done: what a replay needs to do it again, and nothing personal in clear (an
/// erased person is there only as the tombstone's keyed fingerprint and the ids of the rows removed).
public struct LedgerEntry: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        /// `subject erase`: a tombstone and the rows it removed.
        case erasure
        /// `customer shred`: the data keys destroyed.
        case shred
        /// `retention set`: a customer's shortened retention.
        case retentionSet = "retention_set"
        /// `retention clear`: the policy's retention applies to the customer again.
        case retentionClear = "retention_clear"
        /// `hold release`.
        case holdRelease = "hold_release"
    }

    public var action: Action
    public var customerId: Int64?
    /// Erasure: the tombstone as the database recorded it.
    public var tombstoneId: Int64?
    public var erasedAt: String?
    public var blindIndex: String?
    public var blindIndexBits: Int?
    public var subjectHmac: String?
    /// Erasure: table -> ids of the rows removed.
    public var rows: [String: [Int64]]?
    /// Erasure: the receipt's counts per table, as JSON.
    public var rowsRemoved: String?
    /// Shred: the data keys destroyed, and when.
    public var keyIds: [Int64]?
    public var shreddedAt: String?
    /// Retention set: the period (ISO-8601).
    public var period: String?
    /// Hold release: the hold, and when it was released.
    public var holdId: Int64?
    public var releasedAt: String?

    public init(action: Action, customerId: Int64? = nil) {
        self.action = action
        self.customerId = customerId
    }

    /// The entry in a few words, ids only, for reports and logs.
    public var summary: String {
        switch action {
        case .erasure: "erasure (tombstone \(tombstoneId ?? 0), \(rows?.values.reduce(0) { $0 + $1.count } ?? 0) row(s))"
        case .shred: "shred of customer \(customerId ?? 0) (\(keyIds?.count ?? 0) key(s))"
        case .retentionSet: "retention \(period ?? "?") for customer \(customerId ?? 0)"
        case .retentionClear: "retention cleared for customer \(customerId ?? 0)"
        case .holdRelease: "release of hold \(holdId ?? 0) (customer \(customerId ?? 0))"
        }
    }
}

/// One record of the ledger, as stored: `<seq>.json` in the database instance's directory. `mac` authenticates
/// every other field, `prev` (the previous record's mac) chains it to the one before: a record flipped, cut,
/// forged, reordered or removed from the middle does not verify.
public struct LedgerRecord: Codable, Sendable, Equatable {
    public let seq: Int64
    public let prev: String
    public let at: String
    public let instance: String
    public let entry: LedgerEntry
    /// The audit record the action wrote (id and hash), in the same transaction.
    public let auditId: Int64?
    public let auditHash: String?
    public var mac: String

    static let genesis = String(repeating: "0", count: 64)

    /// The bytes the mac covers: every field but the mac, in a fixed order.
    func authenticatedBytes() throws -> [UInt8] {
        var unsigned = self
        unsigned.mac = ""
        return Array(try Self.encoder.encode(unsigned))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()
}
