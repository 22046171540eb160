import Foundation
import LetheCore
import LetheCrypto

/// A public key backups are sealed to (`lethe keys backup-key init` writes it as `FILE.pub`). Holding it lets a
/// host make backups, never read them: the always-on worker keeps only this.
public struct BackupRecipient: Sendable, Equatable {
    public let publicKey: [UInt8]
    /// Where it was read from, for messages.
    public let source: String

    static let prefix = "lethe-backup-public-key-v1 "

    public init(publicKey: [UInt8], source: String) {
        self.publicKey = publicKey
        self.source = source
    }

    /// Short and stable: the first 16 hex digits of the key's SHA-256, as `keys backup-key init` prints it.
    public var fingerprint: String { (try? SHA256.hex(publicKey)).map { String($0.prefix(16)) } ?? "-" }

    public static func load(path: String) throws -> BackupRecipient {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LetheError.noInput("cannot read the backup public key \(path)", hint: "make a key pair with 'lethe keys backup-key init --out FILE'; pass FILE.pub")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix(prefix), let key = Hex.decode(String(text.dropFirst(prefix.count))), key.count == X25519.keySize else {
            let isPrivate = text.hasPrefix(BackupPrivateKey.prefix)
            throw LetheError.dataError("\(path) is not a lethe backup public key" + (isPrivate ? " (it is the private key: give the host only FILE.pub)" : ""),
                                       hint: "pass the FILE.pub written by 'lethe keys backup-key init --out FILE'")
        }
        return BackupRecipient(publicKey: key, source: path)
    }

    var encoded: [UInt8] { Array((Self.prefix + Hex.encode(publicKey) + "\n").utf8) }
}

/// The private half: opens backups sealed to its public key. Mode 0600, refused when others can read it; it
/// belongs on the operators' restore host (and an offline escrow), never on the worker.
public struct BackupPrivateKey: Sendable {
    public let recipient: BackupRecipient
    let key: SecretKey

    static let prefix = "lethe-backup-private-key-v1 "

    /// Writes `path` (0600) and `path.pub`; refuses to overwrite either.
    public static func create(at path: String) throws -> BackupPrivateKey {
        let key = try X25519.newPrivateKey()
        let recipient = BackupRecipient(publicKey: try X25519.publicKey(of: key), source: path + ".pub")
        if FileManager.default.fileExists(atPath: recipient.source) {
            throw LetheError(.cannotCreate, "\(recipient.source) already exists", hint: "choose another --out, or remove the old pair first")
        }
        try SecureFile.createExclusive(path, contents: Array((prefix + Hex.encode(key.unsafeRawBytes) + "\n").utf8))
        guard FileManager.default.createFile(atPath: recipient.source, contents: Data(recipient.encoded),
                                             attributes: [.posixPermissions: 0o644]) else {
            unlink(path)
            throw LetheError(.cannotCreate, "cannot write \(recipient.source)")
        }
        return BackupPrivateKey(recipient: recipient, key: key)
    }

    public static func load(path: String) throws -> BackupPrivateKey {
        ProcessHardening.noCoreDumps()
        // A public key given where the private one is needed: say so, rather than complain about its mode.
        if let head = FileManager.default.contents(atPath: path)?.prefix(BackupRecipient.prefix.utf8.count),
           String(decoding: head, as: UTF8.self) == BackupRecipient.prefix {
            throw LetheError.config("\(path) is a backup public key: it seals backups but cannot open them; nothing was read",
                                    hint: "pass the private key (--backup-key FILE, the file beside FILE.pub) on the operators' host")
        }
        let text = String(decoding: try SecureFile.readPrivate(path, what: "backup private key"), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix(prefix), let raw = Hex.decode(String(text.dropFirst(prefix.count))), raw.count == X25519.keySize else {
            throw LetheError.dataError("\(path) is not a lethe backup private key", hint: "pass the FILE written by 'lethe keys backup-key init --out FILE' (not FILE.pub)")
        }
        let key = SecretKey(bytes: raw)
        return BackupPrivateKey(recipient: BackupRecipient(publicKey: try X25519.publicKey(of: key), source: path), key: key)
    }

    /// The X25519 shared secret with an ephemeral public key from a backup header; nil for a degenerate key.
    public func sharedSecret(with ephemeral: [UInt8]) throws -> SecretKey? {
        try X25519.sharedSecret(privateKey: key, peer: ephemeral)
    }
}
