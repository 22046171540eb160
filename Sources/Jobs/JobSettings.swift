import Foundation
import Ledger
import LetheCore
import Policy

/// What the jobs need besides a database connection, resolved once: from a one-shot command's options and
/// environment, or from the worker's (the same options, so both callers configure a job the same way).
public struct JobSettings: Sendable {
    public let conninfo: String?
    /// Nil for a command that takes none (`requests check`): a job that needs one says so.
    public let policy: RetentionPolicy?
    /// Keyring file (LETHE_KEYRING): backups are sealed with it, and expiry verifies with it when present.
    public var keyringPath: String?
    /// Backup repository (LETHE_BACKUP_REPO or the policy's backup.repo).
    public var repositoryDirectory: String?
    /// Where the metrics file is written after every job, if anywhere.
    public var metricsFile: String?
    /// Public keys backups are sealed to (LETHE_BACKUP_RECIPIENT): given, the backup job needs no keyring.
    public var backupRecipientPaths: [String] = []
    /// The key each backup is signed with (LETHE_BACKUP_SIGN_KEY), so restores can prove its origin.
    public var backupSigningKeyPath: String?
    /// Backup private keys (LETHE_BACKUP_KEY) with which expiry authenticates headers of backups sealed to public keys.
    public var backupKeyPaths: [String] = []
    /// The ledger outside the database: the worker reconciles a database behind it before any job (issue 32).
    public var ledger: Ledger?

    public init(conninfo: String?, policy: RetentionPolicy?, keyringPath: String? = nil, repositoryDirectory: String? = nil,
                metricsFile: String? = nil) {
        self.conninfo = conninfo
        self.policy = policy
        self.keyringPath = keyringPath
        self.repositoryDirectory = repositoryDirectory
        self.metricsFile = metricsFile
    }

    public func requiredPolicy() throws -> RetentionPolicy {
        guard let policy else { throw LetheError.usage("this job needs the policy", hint: "pass --policy FILE or set LETHE_POLICY") }
        return policy
    }
}
