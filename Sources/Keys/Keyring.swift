import Foundation
import LetheCore
import LetheCrypto

/// The keyring file (`--keyring` / `LETHE_KEYRING`): versioned key-encryption keys (KEKs) that wrap the
/// customers' data keys, and a root secret from which the blind-index and backup keys are derived (HKDF).
/// Mode 0600; refused when group or others can read it. JSON, so operators can see its versions.
public struct Keyring: Sendable {
    public struct KEK: Sendable {
        public let id: Int
        public let createdAt: String
        let key: SecretKey
        /// Added by rotation step one and not yet confirmed by step two (`keys rotate --rewrap`, run once the
        /// keyring is copied offline): nothing new is wrapped with it, so the offline copy is never behind.
        public var pending = false

        /// The key itself, for modules that wrap their own data keys with it (backups).
        public var keyForWrapping: SecretKey { key }
    }

    public let path: String
    public let keks: [KEK]
    let root: SecretKey

    /// The newest confirmed KEK: new data keys and keyring-sealed backups are wrapped with it.
    public var current: KEK { keks.filter { !$0.pending }.max { $0.id < $1.id } ?? newest }

    /// The newest KEK, pending or not: what rotation step two re-wraps to.
    public var newest: KEK { keks.max { $0.id < $1.id }! }

    public func kek(_ id: Int) throws(LetheError) -> KEK {
        guard let kek = keks.first(where: { $0.id == id }) else {
            throw .integrity("the keyring \(path) has no key-encryption key \(id)",
                             hint: "use the keyring this database was set up with (lethe keys status shows the versions in use)")
        }
        return kek
    }

    /// Keys derived from the root secret, one per purpose.
    public func derivedKey(_ purpose: DerivedKeyPurpose) throws(LetheError) -> SecretKey {
        try HKDFSHA256.derive(inputKey: root, salt: Array("lethe keyring v1".utf8), info: Array(purpose.rawValue.utf8), count: 32)
    }

    public enum DerivedKeyPurpose: String, Sendable {
        case blindIndex = "blind index v1"
        case backup = "backup v1"
        case subjectTombstone = "subject tombstone v1"
        /// The ledger's record authentication (issue 32): `lethe ledger init` writes it to a key file.
        case ledger = "ledger v1"
    }

    /// Creates a new keyring file with one KEK; refuses to overwrite an existing file.
    public static func create(at path: String) throws -> Keyring {
        let keyring = Keyring(path: path, keks: [KEK(id: 1, createdAt: Timestamps.iso(Date()), key: try SecretKey.random())],
                              root: try SecretKey.random())
        try SecureFile.createExclusive(path, contents: try keyring.encoded())
        return keyring
    }

    public static func load(path: String) throws -> Keyring {
        ProcessHardening.noCoreDumps()
        SecureFile.removeStaleTemporaries(of: path)
        let bytes = try SecureFile.readPrivate(path, what: "keyring")
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              object["format"] as? String == "lethe-keyring", object["version"] as? Int == 1,
              let rootText = object["root"] as? String, let root = Data(base64Encoded: rootText), root.count == 32,
              let kekObjects = object["keks"] as? [[String: Any]], !kekObjects.isEmpty else {
            throw LetheError.dataError("\(path) is not a lethe keyring (version 1)", hint: "create one with 'lethe keys init --keyring FILE'")
        }
        var keks: [KEK] = []
        for entry in kekObjects {
            guard let id = entry["id"] as? Int, let keyText = entry["key"] as? String, let key = Data(base64Encoded: keyText), key.count == 32 else {
                throw LetheError.dataError("\(path): a key-encryption key entry is malformed")
            }
            keks.append(KEK(id: id, createdAt: entry["created_at"] as? String ?? "", key: SecretKey(bytes: Array(key)), pending: entry["pending"] as? Bool ?? false))
        }
        return Keyring(path: path, keks: keks, root: SecretKey(bytes: Array(root)))
    }

    /// Adds a new KEK version, pending until confirmed, and rewrites the file atomically.
    public func addingKEK() throws -> Keyring {
        let next = Keyring(path: path, keks: keks + [KEK(id: newest.id + 1, createdAt: Timestamps.iso(Date()), key: try SecretKey.random(), pending: true)],
                           root: root)
        try SecureFile.replace(path, contents: try next.encoded())
        return next
    }

    /// Confirms every pending KEK (rotation step two: the operator has copied the keyring offline) and rewrites
    /// the file atomically; from then on new data keys are wrapped with the newest one.
    public func confirmingPending() throws -> Keyring {
        guard keks.contains(where: \.pending) else { return self }
        let next = Keyring(path: path, keks: keks.map { KEK(id: $0.id, createdAt: $0.createdAt, key: $0.key, pending: false) }, root: root)
        try SecureFile.replace(path, contents: try next.encoded())
        return next
    }

    private func encoded() throws -> [UInt8] {
        let object: [String: Any] = [
            "format": "lethe-keyring",
            "version": 1,
            "root": Data(root.unsafeRawBytes).base64EncodedString(),
            "keks": keks.map { kek -> [String: Any] in
                var entry: [String: Any] = ["id": kek.id, "created_at": kek.createdAt, "key": Data(kek.key.unsafeRawBytes).base64EncodedString()]
                if kek.pending { entry["pending"] = true }
                return entry
            },
        ]
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) + [0x0A]
    }
}
