import Foundation
import Policy

/// What the worker's jobs need besides a database connection: the same settings the one-shot commands take
/// from their options and environment.
public struct WorkerConfiguration: Sendable {
    public let conninfo: String?
    public let policy: RetentionPolicy
    /// Keyring file (LETHE_KEYRING): backups are sealed with it, and expiry verifies with it when present.
    public let keyringPath: String?
    /// Backup repository (LETHE_BACKUP_REPO or the policy's backup.repo).
    public let repositoryDirectory: String?
    /// Where the metrics file is written after every job, if anywhere.
    public let metricsFile: String?
    /// Public keys backups are sealed to (LETHE_BACKUP_RECIPIENT): given, the backup job needs no keyring.
    public var backupRecipientPaths: [String] = []
    /// The key each backup is signed with (LETHE_BACKUP_SIGN_KEY), so restores can prove its origin.
    public var backupSigningKeyPath: String?
    /// Backup private keys (LETHE_BACKUP_KEY) with which expiry authenticates headers of backups sealed to public keys.
    public var backupKeyPaths: [String] = []

    public init(conninfo: String?, policy: RetentionPolicy, keyringPath: String?, repositoryDirectory: String?, metricsFile: String?) {
        self.conninfo = conninfo
        self.policy = policy
        self.keyringPath = keyringPath
        self.repositoryDirectory = repositoryDirectory
        self.metricsFile = metricsFile
    }
}
