import LetheCore
import LetheCrypto
import Policy
import Postgres

/// How Lethe names a row's customer in SQL and in its registers: a bigint id. An integer customer column is its
/// own id; a `text` one (`customer_type: text`, a gateway's account names) is keyed by `lethe.customer_id(name)`
/// (migration 0021), so overrides, holds, data keys and envelopes work on named accounts as on numbered ones.
public enum CustomerKey {
    /// The bigint id of the row's customer, over `alias` when given (`t.account`), or nil for a table without one.
    public static func sql(_ table: TablePolicy, alias: SQLIdentifier? = nil) -> SQL? {
        guard let column = table.customerColumn else { return nil }
        let reference: SQL = alias.map { "\($0).\(column)" } ?? "\(column)"
        switch table.customerType {
        case .integer: return reference
        case .text: return "lethe.customer_id(\(reference))"
        }
    }

    /// The id a customer name is keyed by: the first 62 bits of SHA-256(`lethe customer|` + name), with bit 62 set
    /// (the same as `lethe.customer_id` computes in the database).
    public static func id(name: String) throws -> Int64 {
        let digest = try SHA256.hash(Array("lethe customer|\(name)".utf8))
        let high = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Int64(bitPattern: high & 0x3FFF_FFFF_FFFF_FFFF | 0x4000_0000_0000_0000)
    }

    /// The customer id rows without a customer (a NULL customer column: a gateway's rows with no account) are sealed
    /// under: the platform's own data key, never a customer's (no name hashes to exactly 2^62 in practice). Only
    /// sealing and opening use it; purges, holds and overrides see such rows as having no customer.
    public static let withoutCustomer: Int64 = 0x4000_0000_0000_0000

    /// True for an id in the range names are keyed into.
    public static func isNameKey(_ id: Int64) -> Bool { id >= 0x4000_0000_0000_0000 }
}

extension SQLIdentifier {
    /// The alias `t` Lethe's row readers give a policy table.
    public static let t = try! SQLIdentifier("t")
}
