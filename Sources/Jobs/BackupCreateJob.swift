import Backup
import Keys
import LetheCore
import Policy

/// `backup`: one sealed (and, with a signing key, signed) logical backup into the repository.
public struct BackupCreateJob: RecordedJob {
    public init() {}

    public var name: JobName { .backup }

    public func run(_ context: JobContext) throws -> BackupManifest {
        let settings = context.settings
        let sealing: BackupSealing = settings.backupRecipientPaths.isEmpty
            ? .keyring(try Keyring.load(path: try settings.requiredKeyringPath(for: name)))
            : .recipients(try settings.backupRecipientPaths.map(BackupRecipient.load))
        var job = BackupJob(db: context.db, conninfo: settings.conninfo, policy: try context.policy(), sealing: sealing,
                            repository: try settings.repository(for: name), logger: context.logger)
        job.stop = context.stop
        job.signingKey = try settings.backupSigningKeyPath.map(BackupSigningKey.load)
        return try job.run()
    }

    public func result(of manifest: BackupManifest) -> JobResult {
        JobResult(detail: "backup \(manifest.id): \(manifest.size) bytes")
    }
}

extension JobSettings {
    /// The keyring a job needs, or a configuration error (78) naming both ways to give it.
    func requiredKeyringPath(for job: JobName) throws -> String {
        guard let keyringPath else {
            throw LetheError.config("the \(job.rawValue) job needs the keyring",
                                   hint: "pass --keyring FILE or set LETHE_KEYRING (create one with 'lethe keys init --keyring FILE'), or seal to public keys with --recipient / LETHE_BACKUP_RECIPIENT")
        }
        return keyringPath
    }

    /// The backup repository a job writes to or expires, or a configuration error (78) naming every way to give it.
    public func repository(for job: JobName) throws -> BackupRepository {
        guard let repositoryDirectory else {
            throw LetheError.config("no backup repository is configured",
                                   hint: "pass --repo DIR, set LETHE_BACKUP_REPO or backup.repo in the policy, or set schedule.\(job.rawValue): off")
        }
        return try BackupRepository(directory: repositoryDirectory)
    }

    /// Every key at hand that authenticates backup headers: the keyring for format 1, backup private keys for format 2.
    public func backupOpeningKeys(for job: JobName) throws -> BackupOpeningKeys {
        let keys = try BackupOpeningKeys.load(keyringPath: keyringPath, privateKeyPaths: backupKeyPaths)
        guard !keys.isEmpty else {
            throw LetheError.config("the \(job.rawValue) job needs a key that opens backups",
                                   hint: "pass --backup-key FILE (LETHE_BACKUP_KEY) for backups sealed to a public key, or --keyring FILE (LETHE_KEYRING) for those sealed with the keyring; or set schedule.\(job.rawValue): off")
        }
        return keys
    }
}
