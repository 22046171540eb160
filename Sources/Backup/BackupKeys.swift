import Foundation
import Keys
import LetheCore

/// How a new backup's file key is sealed.
public enum BackupSealing: Sendable {
    /// To the keyring's newest KEK (format version 1): whoever makes backups can also read them.
    case keyring(Keyring)
    /// To one or more public keys (format version 2): the host that makes backups holds no key that opens them.
    case recipients([BackupRecipient])

    var kekId: Int {
        if case .keyring(let keyring) = self { return keyring.current.id }
        return 0
    }

    var recipientFingerprints: [String]? {
        if case .recipients(let recipients) = self { return recipients.map(\.fingerprint) }
        return nil
    }

    public var description: String {
        switch self {
        case .keyring(let keyring): "key-encryption key \(keyring.current.id)"
        case .recipients(let recipients): "public key(s) \(recipients.map(\.fingerprint).joined(separator: ", "))"
        }
    }
}

/// The keys at hand to open backups: the keyring for version 1 files, backup private keys for version 2, and
/// the trusted signers whose signature proves a version 2 file's origin.
public struct BackupOpeningKeys: Sendable {
    public var keyring: Keyring?
    public var privateKeys: [BackupPrivateKey]
    public var signers: [BackupSigner]

    public init(keyring: Keyring? = nil, privateKeys: [BackupPrivateKey] = [], signers: [BackupSigner] = []) {
        self.keyring = keyring
        self.privateKeys = privateKeys
        self.signers = signers
    }

    public var isEmpty: Bool { keyring == nil && privateKeys.isEmpty }

    /// Loads the keyring (if a path is given) and the backup private keys.
    public static func load(keyringPath: String?, privateKeyPaths: [String]) throws -> BackupOpeningKeys {
        BackupOpeningKeys(keyring: try keyringPath.map(Keyring.load), privateKeys: try privateKeyPaths.map(BackupPrivateKey.load))
    }
}
