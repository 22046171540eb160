import ArgumentParser
import Foundation
import Keys
import LetheCore

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create the keyring, rotate key-encryption keys, and show which versions are in use.",
        discussion: """
            The keyring file holds versioned key-encryption keys (KEKs) and the root secret of the blind-index and \
            backup keys. Each customer's data key lives in lethe.customer_keys, wrapped by a KEK. Keep the keyring \
            outside the database and its backups; mode 0600.
            """,
        subcommands: [KeysInitCommand.self, KeysRotateCommand.self, KeysStatusCommand.self]
    )
}

struct KeysInitCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Write a new keyring file (mode 0600); refuses to overwrite one.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var keyring: KeyringOptions

    func execute() throws {
        let created = try Keyring.create(at: try keyring.requiredPath())
        Output.line("keyring \(created.path) created (mode 0600) with key-encryption key \(created.current.id)")
        Output.line("back it up somewhere safe and separate from the database: without it, sealed data cannot be read")
    }
}

struct KeysRotateCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Add a KEK version and re-wrap every customer data key with it (data is not re-encrypted).",
        discussion: "Old ciphertexts stay readable. An interrupted rotation is finished by the next 'lethe keys rotate'."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var keyring: KeyringOptions
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let (_, report) = try KeyAdministration(try database.connect()).rotate(keyring: try keyring.load())
        if json { return try Output.json(report) }
        Output.line("\(report.resumed ? "finished rotation to" : "rotated to") key-encryption key \(report.kekId): \(report.rewrapped) data key(s) re-wrapped")
    }
}

struct KeysStatusCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show KEK versions and how many data keys each wraps.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var keyring: KeyringOptions
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let status = try KeyAdministration(try database.connect()).status(keyring: try keyring.load())
        if json { return try Output.json(status) }
        Output.table(["KEK", "CREATED", "DATA KEYS"], status.versions.map { ["\($0.kekId)", $0.createdAt, "\($0.dataKeys)"] })
        Output.line("shredded data keys: \(status.shreddedKeys)")
        if !status.unknownVersions.isEmpty {
            throw LetheError.integrity("data keys are wrapped by KEK version(s) \(status.unknownVersions) that \(status.keyring) does not hold",
                                       hint: "use the newest keyring file")
        }
    }
}
