import Access
import ArgumentParser
import Foundation
import Keys
import LetheCore
import LetheCrypto

struct EncryptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Migrate plaintext or legacy AES-128-CBC columns to sealed envelopes, and verify sealed data.",
        subcommands: [EncryptMigrateCommand.self, EncryptVerifyCommand.self]
    )
}

struct EncryptMigrateCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Re-seal a personal column in place, in resumable batches.",
        discussion: """
            --from aes-128-cbc reads the old format: a 16-byte IV followed by AES-128-CBC ciphertext with PKCS#7
            padding; --legacy-key-file holds the 16-byte key as 32 hex digits (mode 0600). Every new envelope is \
            verified before it is written; values that do not decrypt are listed by row id and left as they were.

            Example:
              lethe encrypt migrate --table sms.messages --column body --from aes-128-cbc --legacy-key-file old.key
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @Option(help: ArgumentHelp("Table (schema.table).", valueName: "name")) var table: String
    @Option(help: ArgumentHelp("Personal column to migrate.", valueName: "name")) var column: String
    @Option(help: "plaintext or aes-128-cbc") var from: String
    @Option(name: .customLong("legacy-key-file"), help: ArgumentHelp("File with the legacy AES-128 key (32 hex digits).", valueName: "file"))
    var legacyKeyFile: String?
    @Option(name: .customLong("batch-rows"), help: "Rows per committed batch.") var batchRows = 500
    @Flag(name: .customLong("dry-run"), help: "Decrypt and check every value; write nothing.") var dryRun = false
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard LegacyColumnMigration.Source(rawValue: from) != nil else { throw ValidationError("--from must be plaintext or aes-128-cbc") }
        guard (1...100_000).contains(batchRows) else { throw ValidationError("--batch-rows must be between 1 and 100000") }
    }

    func execute() throws {
        let source = LegacyColumnMigration.Source(rawValue: from)!
        var legacyKey: SecretKey?
        if let legacyKeyFile {
            let text = String(decoding: try SecureFile.readPrivate(legacyKeyFile, what: "legacy key file"), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard let bytes = Hex.decode(text), bytes.count == 16 else {
                throw LetheError.dataError("\(legacyKeyFile) does not hold a 16-byte key as 32 hex digits")
            }
            legacyKey = SecretKey(bytes: bytes)
        }
        let db = try database.connect(for: .operator, command: "encrypt")
        let policy = try policyOptions.load()
        let vault = try Vault(db: db, keyring: try keyring.load(), blindIndexBits: policy.blindIndexBits)
        let report = try LegacyColumnMigration(db: db, policy: policy, vault: vault)
            .run(table: table, column: column, from: source, legacyKey: legacyKey, batch: batchRows, dryRun: dryRun)
        if json {
            try Output.json(report)
        } else {
            if let widened = report.widened { Output.line("\(dryRun ? "would widen" : "widened") \(widened) (binary-coercible: no rewrite) to hold envelopes' text form") }
            for failure in report.failed { Output.line("row \(failure.rowId): \(failure.reason); left as it was") }
            Output.line("\(table).\(column): \(report.converted) value(s) \(dryRun ? "would be re-sealed" : "re-sealed"), \(report.failed.count) left unconverted")
        }
        if !report.failed.isEmpty {
            throw LetheError(.checkFailed, "\(report.failed.count) value(s) left unconverted",
                             hint: "the report lists their row ids; correct or remove those values, then rerun: converted values are skipped")
        }
    }
}

struct EncryptVerifyCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Open every sealed personal value; exit 79 naming table, column and row of each that does not open.",
        discussion: """
            A value without an envelope's shape (clear text written before Lethe, or the legacy AES-128-CBC format) is \
            not tampering: it is counted as unsealed, by column, and the command exits 1 with the 'encrypt migrate' \
            command that seals it. Exit 79 is kept for envelopes that do not open (altered, moved to another row, or \
            sealed under a key this keyring does not hold) and for blind indexes that are not their number's.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @Option(help: ArgumentHelp("Only this table.", valueName: "name")) var table: String?
    @Option(help: ArgumentHelp("Only this customer (an id, or an account name).", valueName: "id|name")) var customer: CustomerArgument?
    @Flag(help: "Print the report as JSON.") var json = false

    func execute() throws {
        let db = try database.connect(for: .operator, command: "encrypt")
        let policy = try policyOptions.load()
        let vault = try Vault(db: db, keyring: try keyring.load(), blindIndexBits: policy.blindIndexBits)
        let report = try SealedDataCheck(db: db, policy: policy, vault: vault).run(table: table, customer: try customer?.offlineId)
        if json {
            try Output.json(report)
        } else {
            Output.line("\(report.checked) sealed value(s) checked, \(report.failureCount) failed, \(report.unsealed) not sealed yet")
        }
        guard report.failureCount == 0 else {
            throw LetheError.integrity(report.failures.prefix(20).joined(separator: "\n"),
                                       hint: "\(report.failureCount) value(s) do not open: restore them from a backup, or investigate tampering")
        }
        if let (column, count) = report.unsealedByColumn.sorted(by: { $0.key < $1.key }).first {
            let (tableName, columnName) = (String(column[..<column.lastIndex(of: ".")!]), String(column[column.index(after: column.lastIndex(of: ".")!)...]))
            let columns = report.unsealedByColumn.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            throw LetheError(.checkFailed, "\(report.unsealed) personal value(s) are not sealed yet (\(columns))",
                             hint: "lethe encrypt migrate --table \(tableName) --column \(columnName) --from plaintext (or aes-128-cbc); \(count) in that column")
        }
    }
}
