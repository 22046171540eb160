import Access
import ArgumentParser
import Foundation
import Keys
import LetheCore
import Subject

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create the keyring, rotate key-encryption keys, and show which versions are in use.",
        discussion: """
            The keyring file holds versioned key-encryption keys (KEKs) and the root secret of the blind-index and \
            backup keys. Each customer's data key lives in lethe.customer_keys, wrapped by a KEK. Keep the keyring \
            outside the database and its backups; mode 0600.
            """,
        subcommands: [KeysInitCommand.self, KeysRotateCommand.self, KeysStatusCommand.self, KeysReindexCommand.self, KeysBackupKeyCommand.self, KeysSigningKeyCommand.self]
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
        abstract: "Rotate key-encryption keys in two steps: add a KEK to the keyring, then (--rewrap) re-wrap every data key with it.",
        discussion: """
            Step one (no flag) adds a KEK version to the keyring file, fsyncs the file and its directory, and records \
            the KEK's fingerprint in the database; nothing is wrapped with it yet. Copy the keyring to its offline \
            backup, then run step two, 'lethe keys rotate --rewrap', which re-wraps every customer data key (data is \
            not re-encrypted). A crash at any instant leaves every data key openable with the keyring on disk, and \
            the offline copy is never behind the database. An interrupted --rewrap is finished by the next one.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var keyring: KeyringOptions
    @Flag(help: "Step two: re-wrap every data key with the keyring's newest KEK (after copying the keyring).") var rewrap = false
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let administration = KeyAdministration(try database.connect(for: .operator, command: "keys rotate"))
        if rewrap {
            let report = try administration.rewrap(keyring: try keyring.load())
            if json { return try Output.json(report) }
            Output.line("\(report.resumed ? "finished rotation to" : "rotated to") key-encryption key \(report.kekId): \(report.rewrapped) data key(s) re-wrapped")
            return
        }
        let (added, pending) = try administration.addKEK(keyring: try keyring.load())
        if json { return try Output.json(["kekId": added.newest.id, "dataKeysToRewrap": pending]) }
        Output.line("key-encryption key \(added.newest.id) added to \(added.path) (written and fsynced, pending); no data key uses it yet, and none will until --rewrap")
        Output.line("next: copy \(added.path) to its offline backup, then run 'lethe keys rotate --rewrap' to re-wrap \(pending) data key(s)")
    }
}

struct KeysStatusCommand: LetheCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show KEK versions and how many data keys each wraps.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var keyring: KeyringOptions
    @Flag(help: "Print as JSON.") var json = false

    func execute() throws {
        let status = try KeyAdministration(try database.connect(for: .operator, command: "keys status")).status(keyring: try keyring.load())
        if json { return try Output.json(status) }
        Output.table(["KEK", "CREATED", "DATA KEYS", "STATE"], status.versions.map { ["\($0.kekId)", $0.createdAt, "\($0.dataKeys)", $0.pending ? "pending (copy the keyring offline, then --rewrap)" : "in use"] })
        Output.line("shredded data keys: \(status.shreddedKeys)")
        if !status.unknownVersions.isEmpty {
            throw LetheError.integrity("data keys are wrapped by KEK version(s) \(status.unknownVersions) that \(status.keyring) does not hold",
                                       hint: "use the newest keyring file")
        }
    }
}

struct KeysReindexCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract: "Recompute every blind index at a new length (blind_index_bits), and the tombstones that can be.",
        discussion: """
            The database records the length its blind indexes were computed with; a policy asking for another is \
            refused (exit 78), since no person would be found. This command opens every sealed number, writes its \
            index at --bits, shortens longer tombstones (a shorter index is a prefix of a longer one; shorter ones keep \
            their length and are replayed through the row ids they list), then records the new length: set \
            blind_index_bits to it in the policy. While it runs every other keyed command refuses (exit 75); batches \
            commit one by one and a killed run is finished by running it again. Restoring a backup taken before \
            re-indexes the restored database the same way.

            Examples:
              lethe keys reindex --bits 24 --dry-run
              lethe keys reindex --bits 24
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @Option(help: "The new length of the blind index, in bits (8 to 256).") var bits: Int
    @Option(name: .customLong("batch-rows"), help: "Rows per committed batch.") var batchRows = 2000
    @Flag(name: .customLong("dry-run"), help: "Count what would be rewritten; change nothing.") var dryRun = false
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard (8...256).contains(bits) else { throw ValidationError("--bits must be between 8 and 256") }
        guard batchRows > 0 else { throw ValidationError("--batch-rows must be positive") }
    }

    func execute() throws {
        let report = try BlindIndexReindex(db: try database.connect(for: .operator, command: "keys reindex"), policy: try policyOptions.load(), keyring: try keyring.load(), batch: batchRows, shortenTombstones: Tombstones.shortenBlindIndexes)
            .run(to: bits, dryRun: dryRun)
        if json { return try Output.json(report) }
        if report.fromBits == bits && report.rows.isEmpty { return Output.line("blind indexes are already \(bits) bits: nothing to do") }
        for (table, rows) in report.rows.sorted(by: { $0.key < $1.key }) {
            Output.line("\(table): \(rows) row(s) \(dryRun ? "to re-index" : "re-indexed")")
        }
        guard !dryRun else { return }
        Output.line("tombstones: \(report.tombstonesShortened) shortened to \(bits) bits, \(report.tombstonesKept) kept at their shorter length")
        Output.line("blind indexes are now \(bits) bits (from \(report.fromBits.map(String.init) ?? "-")): set blind_index_bits: \(bits) in the policy")
    }
}
