import ArgumentParser
import Foundation
import Keys
import LetheCore

struct KeysSigningKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signing-key",
        abstract: "Make the Ed25519 key pair backups are signed with: the backup host holds the private half, restore hosts trust the public one.",
        subcommands: [KeysSigningKeyInitCommand.self]
    )
}

struct KeysSigningKeyInitCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a signing key pair: FILE (private, mode 0600) and FILE.pub (public).",
        discussion: """
            A backup sealed to a public key proves only that someone holding that public key made it, and the \
            public key lives on the backup host by design. A signature proves the origin: give FILE to the host \
            that takes backups ('lethe backup --sign-key FILE' or LETHE_BACKUP_SIGN_KEY), and FILE.pub to every \
            host that verifies or restores ('--signer FILE.pub', or the policy's backup.signers). 'lethe restore' \
            refuses (exit 79) a backup sealed to a public key that no trusted signer signed, unless given \
            --trust-unsigned. Backups sealed with the keyring prove their origin by the keyring itself.

            Example:
              lethe keys signing-key init --out /etc/lethe/backup-signing-key
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Private signing key file to write (the public key goes to FILE.pub); refuses to overwrite.", valueName: "file")) var out: String
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let pair = try BackupSigningKey.create(at: out)
        if json { return try Output.json(["privateKey": out, "publicKey": pair.signer.source, "fingerprint": pair.signer.fingerprint]) }
        Output.line("signing key \(out) (mode 0600) and public key \(pair.signer.source) written; fingerprint \(pair.signer.fingerprint)")
        Output.line("give \(out) to the backup host only; give \(pair.signer.source) to every host that verifies or restores (--signer, backup.signers)")
    }
}
