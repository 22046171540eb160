import ArgumentParser
import Foundation
import Keys
import LetheCore

struct KeysBackupKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup-key",
        abstract: "Make the X25519 key pair backups are sealed to: the worker holds the public half, operators the private one.",
        subcommands: [KeysBackupKeyInitCommand.self]
    )
}

struct KeysBackupKeyInitCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a backup key pair: FILE (private, mode 0600) and FILE.pub (public).",
        discussion: """
            Give FILE.pub to the host that takes backups ('lethe backup --recipient FILE.pub' or \
            LETHE_BACKUP_RECIPIENT): it can seal backups but never read them. Keep FILE on the operators' restore \
            host and an offline copy ('lethe restore --backup-key FILE' or LETHE_BACKUP_KEY). For two operators or \
            an escrow key, make one pair each and pass every FILE.pub to backup: any one private key restores.

            Example:
              lethe keys backup-key init --out /etc/lethe/backup-key
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Private key file to write (the public key goes to FILE.pub); refuses to overwrite.", valueName: "file")) var out: String
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let pair = try BackupPrivateKey.create(at: out)
        if json { return try Output.json(["privateKey": out, "publicKey": pair.recipient.source, "fingerprint": pair.recipient.fingerprint]) }
        Output.line("backup private key \(out) (mode 0600) and public key \(pair.recipient.source) written; fingerprint \(pair.recipient.fingerprint)")
        Output.line("give only \(pair.recipient.source) to the backup host; keep \(out) with the operators and an offline copy")
    }
}
