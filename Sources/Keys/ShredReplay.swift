import Foundation
import LetheCore
import Policy
import Postgres

/// The shreds a restore replays: every data key the live database destroyed, destroyed again in the restored one,
/// with the customer's blind indexes, by the module that owns `lethe.customer_keys`.
extension KeyAdministration {
    public struct Shred: Sendable {
        public let keyId: Int64
        public let customerId: Int64
        /// When the live database shredded it, as PostgreSQL wrote it.
        public let shreddedAt: String

        public init(keyId: Int64, customerId: Int64, shreddedAt: String) {
            self.keyId = keyId
            self.customerId = customerId
            self.shreddedAt = shreddedAt
        }
    }

    public static func shreds(_ live: PostgresConnection) throws -> [Shred] {
        try live.query("SELECT key_id, customer_id, shredded_at::text AS at FROM lethe.customer_keys WHERE shredded_at IS NOT NULL ORDER BY key_id").rows.map {
            Shred(keyId: try $0.int("key_id"), customerId: try $0.int("customer_id"), shreddedAt: try $0.string("at"))
        }
    }

    /// Destroys the keys again (in the caller's transaction); returns how many were still whole in the target.
    public static func replay(_ shreds: [Shred], into target: PostgresConnection, policy: RetentionPolicy) throws -> Int {
        var destroyed = 0
        for shred in shreds {
            destroyed += try target.execute("""
                UPDATE lethe.customer_keys SET wrapped = NULL, kek_id = NULL, shredded_at = \(.text(shred.shreddedAt))::timestamptz, shredded_by = 'restore replay'
                WHERE key_id = \(.int(shred.keyId)) AND shredded_at IS NULL
                """)
        }
        // Once per customer, not per key: a customer has a data key per month, and each pass updates every policy table.
        for customer in Set(shreds.map(\.customerId)).sorted() {
            _ = try forgetBlindIndexes(target, customer: customer, policy: policy)
        }
        return destroyed
    }
}
