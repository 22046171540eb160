import LetheCore
import LetheCrypto
import Postgres

/// The keyring and the database must agree on their key-encryption keys: each KEK the database has recorded must be
/// in the keyring with the same fingerprint. KEKs the keyring adds are recorded.
public enum KeyringMatch {
    static func fingerprint(_ kek: Keyring.KEK) throws -> String {
        Hex.encode(Array(try HMACSHA256.authenticate(key: kek.key, message: Array("lethe kek fingerprint v1".utf8)).prefix(16)))
    }

    /// Throws a configuration error (exit 78) naming the file and the KEK when they disagree; records new KEKs.
    public static func check(_ db: PostgresConnection, _ keyring: Keyring) throws {
        let recorded = Dictionary(try db.query("SELECT kek_id, fingerprint FROM lethe.kek_fingerprints").rows.map {
            (Int(try $0.int("kek_id")), try $0.string("fingerprint"))
        }, uniquingKeysWith: { first, _ in first })
        var ours: [Int: String] = [:]
        for kek in keyring.keks { ours[kek.id] = try fingerprint(kek) }
        for (id, fingerprint) in recorded.sorted(by: { $0.key < $1.key }) where ours[id] != fingerprint {
            throw LetheError.config(
                ours[id] == nil ? "the keyring \\(keyring.path) lacks key-encryption key \\(id), which wraps data keys of this database"
                                : "the keyring \\(keyring.path) does not match this database: its key-encryption key \\(id) is another key",
                hint: "use the keyring this database's keys were wrapped with (its fingerprints are in lethe.kek_fingerprints); nothing was sealed")
        }
        for (id, fingerprint) in ours where recorded[id] == nil {
            try db.execute("INSERT INTO lethe.kek_fingerprints (kek_id, fingerprint) VALUES (\(.int(Int64(id))), \(.text(fingerprint))) ON CONFLICT (kek_id) DO NOTHING")
        }
    }
}
