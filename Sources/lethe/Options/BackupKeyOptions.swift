import ArgumentParser
import Backup
import Foundation
import Keys
import Policy
import LetheCore

/// The public keys a new backup is sealed to. Given, `backup` needs no keyring: the host that makes backups
/// cannot read them.
struct BackupRecipientOptions: ParsableArguments {
    @Option(name: .customLong("recipient"),
            help: ArgumentHelp("Seal the backup to this public key (FILE.pub from 'lethe keys backup-key init'; repeatable; default: LETHE_BACKUP_RECIPIENT, comma-separated). Without one, the keyring's KEK seals it.", valueName: "file.pub"))
    var recipients: [String] = []

    var paths: [String] {
        recipients.isEmpty ? EnvironmentList.paths("LETHE_BACKUP_RECIPIENT") : recipients
    }

    func load() throws -> [BackupRecipient] { try paths.map(BackupRecipient.load) }
}

/// Private keys that open backups sealed to public keys (format 2). Backups sealed with the keyring's KEK open
/// with the keyring, as before.
struct BackupKeyOptions: ParsableArguments {
    @Option(name: .customLong("backup-key"),
            help: ArgumentHelp("A backup private key (mode 0600; repeatable; default: LETHE_BACKUP_KEY, comma-separated) for backups sealed to public keys.", valueName: "file"))
    var keys: [String] = []

    var paths: [String] {
        keys.isEmpty ? EnvironmentList.paths("LETHE_BACKUP_KEY") : keys
    }

    func load() throws -> [BackupPrivateKey] { try paths.map(BackupPrivateKey.load) }

    /// Every key at hand that opens backups: the keyring if one is configured, and these private keys.
    func openingKeys(keyring: KeyringOptions, required: Bool = true) throws -> BackupOpeningKeys {
        let keys = try BackupOpeningKeys.load(keyringPath: keyring.path, privateKeyPaths: paths)
        if required && keys.isEmpty {
            throw LetheError.usage("this command needs a key that opens backups",
                                   hint: "pass --backup-key FILE (LETHE_BACKUP_KEY) for backups sealed to a public key, or --keyring FILE (LETHE_KEYRING) for those sealed with the keyring")
        }
        return keys
    }
}

enum EnvironmentList {
    static func paths(_ variable: String) -> [String] {
        (ProcessInfo.processInfo.environment[variable] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// The key the backup host signs backups with (format 2 origin).
struct BackupSigningOptions: ParsableArguments {
    @Option(name: .customLong("sign-key"),
            help: ArgumentHelp("Sign the backup with this Ed25519 key (from 'lethe keys signing-key init'; mode 0600; default: LETHE_BACKUP_SIGN_KEY), so restores can prove where it came from.", valueName: "file"))
    var signKey: String?

    var path: String? {
        signKey ?? ProcessInfo.processInfo.environment["LETHE_BACKUP_SIGN_KEY"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func load() throws -> BackupSigningKey? { try path.map(BackupSigningKey.load) }
}

/// Signers whose signature proves a backup's origin: --signer, or else the policy's backup.signers.
struct SignerOptions: ParsableArguments {
    @Option(name: .customLong("signer"),
            help: ArgumentHelp("Trust backups signed by this public key (FILE.pub from 'lethe keys signing-key init'; repeatable; default: the policy's backup.signers).", valueName: "file.pub"))
    var signers: [String] = []

    func load(_ policy: RetentionPolicy) throws -> [BackupSigner] {
        try (signers.isEmpty ? policy.backup.signers : signers).map(BackupSigner.load)
    }
}
