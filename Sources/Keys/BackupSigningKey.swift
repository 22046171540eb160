import Foundation
import LetheCore
import LetheCrypto

/// A trusted signer's public key (`lethe keys signing-key init` writes it as `FILE.pub`): `backup verify`,
/// `backup list` and `restore` accept a format-2 backup's origin only from a signer given with `--signer` or
/// the policy's `backup.signers`. Public: copies may sit on every restore host.
public struct BackupSigner: Sendable, Equatable {
    public let publicKey: [UInt8]
    /// Where it was read from, for messages.
    public let source: String

    static let prefix = "lethe-backup-signer-v1 "

    public init(publicKey: [UInt8], source: String) {
        self.publicKey = publicKey
        self.source = source
    }

    /// The first 16 hex digits of the key's SHA-256, as `keys signing-key init` prints it.
    public var fingerprint: String { Self.fingerprint(of: publicKey) }

    public static func fingerprint(of publicKey: [UInt8]) -> String {
        (try? SHA256.hex(publicKey)).map { String($0.prefix(16)) } ?? "-"
    }

    public static func load(path: String) throws -> BackupSigner {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LetheError.noInput("cannot read the signer's public key \(path)",
                                     hint: "make a signing pair with 'lethe keys signing-key init --out FILE'; trust FILE.pub with --signer or backup.signers")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix(prefix), let key = Hex.decode(String(text.dropFirst(prefix.count))), key.count == Ed25519.keySize else {
            let isPrivate = text.hasPrefix(BackupSigningKey.prefix)
            throw LetheError.dataError("\(path) is not a lethe signer public key" + (isPrivate ? " (it is the private signing key: trust only FILE.pub)" : ""),
                                       hint: "pass the FILE.pub written by 'lethe keys signing-key init --out FILE'")
        }
        return BackupSigner(publicKey: key, source: path)
    }

    var encoded: [UInt8] { Array((Self.prefix + Hex.encode(publicKey) + "\n").utf8) }
}

/// The private signing key: the host that makes backups signs each one with it (`lethe backup --sign-key FILE`,
/// LETHE_BACKUP_SIGN_KEY). Mode 0600, refused when others can read it. Holding it lets a host vouch for backups,
/// never read them.
public struct BackupSigningKey: Sendable {
    public let signer: BackupSigner
    let key: SecretKey

    static let prefix = "lethe-backup-signing-key-v1 "

    /// Writes `path` (0600) and `path.pub`; refuses to overwrite either.
    public static func create(at path: String) throws -> BackupSigningKey {
        let key = try Ed25519.newPrivateKey()
        let signer = BackupSigner(publicKey: try Ed25519.publicKey(of: key), source: path + ".pub")
        if FileManager.default.fileExists(atPath: signer.source) {
            throw LetheError(.cannotCreate, "\(signer.source) already exists", hint: "choose another --out, or remove the old pair first")
        }
        try SecureFile.createExclusive(path, contents: Array((prefix + Hex.encode(key.unsafeRawBytes) + "\n").utf8))
        guard FileManager.default.createFile(atPath: signer.source, contents: Data(signer.encoded), attributes: [.posixPermissions: 0o644]) else {
            unlink(path)
            throw LetheError(.cannotCreate, "cannot write \(signer.source)")
        }
        return BackupSigningKey(signer: signer, key: key)
    }

    public static func load(path: String) throws -> BackupSigningKey {
        ProcessHardening.noCoreDumps()
        if let head = FileManager.default.contents(atPath: path)?.prefix(BackupSigner.prefix.utf8.count),
           String(decoding: head, as: UTF8.self) == BackupSigner.prefix {
            throw LetheError.config("\(path) is a signer's public key: it checks signatures but cannot make them; nothing was signed",
                                    hint: "pass the private signing key (--sign-key FILE, the file beside FILE.pub)")
        }
        let text = String(decoding: try SecureFile.readPrivate(path, what: "backup signing key"), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix(prefix), let raw = Hex.decode(String(text.dropFirst(prefix.count))), raw.count == Ed25519.keySize else {
            throw LetheError.dataError("\(path) is not a lethe backup signing key", hint: "pass the FILE written by 'lethe keys signing-key init --out FILE' (not FILE.pub)")
        }
        let key = SecretKey(bytes: raw)
        return BackupSigningKey(signer: BackupSigner(publicKey: try Ed25519.publicKey(of: key), source: path), key: key)
    }

    public func sign(_ message: [UInt8]) throws -> [UInt8] { try Ed25519.sign(message, privateKey: key) }
}
