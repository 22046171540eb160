import Foundation
import LetheCore
import LetheCrypto
import Postgres

/// Customers' data keys in `lethe.customer_keys`, wrapped by the keyring's KEKs. Unwrapped keys are cached
/// for the life of one run (one owner, not shared across threads).
public final class DataKeys {
    let db: PostgresConnection
    let keyring: Keyring
    private let cipher: AESGCM
    private var byId: [Int64: SecretKey] = [:]
    private var liveByCustomer: [Int64: Int64] = [:]

    public init(db: PostgresConnection, keyring: Keyring) throws {
        try KeyringMatch.check(db, keyring)
        self.db = db
        self.keyring = keyring
        self.cipher = try AESGCM()
    }

    static func wrapContext(customer: Int64, keyId: Int64, kekId: Int) -> [UInt8] {
        Array("lethe data key v1|customer=\(customer)|key=\(keyId)|kek=\(kekId)".utf8)
    }

    /// The customer's data key for the current month (database clock, UTC), created and wrapped with the current
    /// KEK on first use: a key seals at most a month of the customer's values. Older keys stay for reading.
    /// One run keeps the key it started with.
    public func sealingKey(customer: Int64) throws -> (id: Int64, key: SecretKey) {
        if let id = liveByCustomer[customer], let key = byId[id] { return (id, key) }
        if let row = try db.query("""
            SELECT key_id FROM lethe.customer_keys
            WHERE customer_id = \(.int(customer)) AND shredded_at IS NULL AND period = date_trunc('month', now() AT TIME ZONE 'UTC')::date
            """).first {
            let id = try row.int("key_id")
            let key = try self.key(id: id, customer: customer)
            liveByCustomer[customer] = id
            return (id, key)
        }
        let id = try db.query("SELECT nextval('lethe.customer_keys_key_id_seq') AS id").single("nextval").int("id")
        let key = try SecretKey.random()
        let kek = keyring.current
        let nonce = try SecureRandom.bytes(AESGCM.nonceSize)
        let wrapped = nonce + (try cipher.seal(key: kek.key, nonce: nonce, plaintext: key.unsafeRawBytes,
                                               associatedData: Self.wrapContext(customer: customer, keyId: id, kekId: kek.id)))
        let inserted = try db.execute("""
            INSERT INTO lethe.customer_keys (key_id, customer_id, kek_id, wrapped) VALUES (\(.int(id)), \(.int(customer)), \(.int(Int64(kek.id))), \(.bytes(wrapped)))
            ON CONFLICT (customer_id, period) WHERE shredded_at IS NULL DO NOTHING
            """)
        guard inserted == 1 else { return try sealingKey(customer: customer) }  // another process created it first
        byId[id] = key
        liveByCustomer[customer] = id
        return (id, key)
    }

    /// The data key an envelope names. Integrity error if it is missing, shredded, or not the customer's.
    public func key(id: Int64, customer: Int64) throws -> SecretKey {
        if let key = byId[id] { return key }
        guard let row = try db.query("SELECT customer_id, kek_id, wrapped, shredded_at IS NOT NULL AS shredded FROM lethe.customer_keys WHERE key_id = \(.int(id))").first else {
            throw LetheError.integrity("data key \(id) does not exist", hint: "the value was sealed in another database, or its key row was deleted")
        }
        guard try row.int("customer_id") == customer else {
            throw LetheError.integrity("data key \(id) belongs to another customer than \(customer)")
        }
        if try row.bool("shredded") {
            throw LetheError.integrity("customer \(customer)'s data key \(id) was shredded: its data can no longer be read",
                                       hint: "crypto-shredding is irreversible")
        }
        let kek = try keyring.kek(Int(try row.int("kek_id")))
        let wrapped = try row.bytes("wrapped")
        guard wrapped.count > AESGCM.nonceSize,
              let raw = try cipher.open(key: kek.key, nonce: Array(wrapped.prefix(AESGCM.nonceSize)), sealed: Array(wrapped.dropFirst(AESGCM.nonceSize)),
                                        associatedData: Self.wrapContext(customer: customer, keyId: id, kekId: kek.id)) else {
            throw LetheError.integrity("data key \(id) of customer \(customer) does not unwrap with KEK \(kek.id) of \(keyring.path)",
                                       hint: "wrong keyring, or the key row was tampered with")
        }
        let key = SecretKey(bytes: raw)
        byId[id] = key
        return key
    }

    /// Re-wraps every live data key with `kek` (rotation). Data is not re-encrypted. Returns keys re-wrapped.
    public func rewrapAll(to kek: Keyring.KEK) throws -> Int {
        try db.transaction {
            let rows = try db.query("SELECT key_id, customer_id FROM lethe.customer_keys WHERE shredded_at IS NULL AND kek_id <> \(.int(Int64(kek.id))) FOR UPDATE").rows
            for row in rows {
                let id = try row.int("key_id"), customer = try row.int("customer_id")
                let key = try self.key(id: id, customer: customer)
                let nonce = try SecureRandom.bytes(AESGCM.nonceSize)
                let wrapped = nonce + (try cipher.seal(key: kek.key, nonce: nonce, plaintext: key.unsafeRawBytes,
                                                       associatedData: Self.wrapContext(customer: customer, keyId: id, kekId: kek.id)))
                try db.execute("UPDATE lethe.customer_keys SET kek_id = \(.int(Int64(kek.id))), wrapped = \(.bytes(wrapped)) WHERE key_id = \(.int(id))")
            }
            return rows.count
        }
    }

    /// Live data keys per KEK version.
    public func countsByKEK() throws -> [Int: Int] {
        var counts: [Int: Int] = [:]
        for row in try db.query("SELECT kek_id, count(*) AS n FROM lethe.customer_keys WHERE shredded_at IS NULL GROUP BY 1").rows {
            counts[Int(try row.int("kek_id"))] = Int(try row.int("n"))
        }
        return counts
    }

    public func shreddedCount() throws -> Int {
        Int(try db.query("SELECT count(*) AS n FROM lethe.customer_keys WHERE shredded_at IS NOT NULL").single("n").int("n"))
    }
}
