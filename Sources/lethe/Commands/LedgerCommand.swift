import ArgumentParser
import Foundation
import Keys
import Ledger
import LetheCore
import Postgres

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "The ledger outside the database: erasures, shreds, retention changes and hold releases no restore can undo.",
        discussion: """
            Every erasure, shred, retention change and hold release is also written to the ledger, one authenticated, \
            hash-chained record per action, fsynced before the database commits it. After a physical or point-in-time \
            restore (pgBackRest, WAL-G, pg_basebackup, a volume snapshot) the database's own records roll back; \
            'lethe reconcile' (and the worker, on its own) re-applies from the ledger what the database lacks.

            Copy the ledger directory and its key off the host, with the keyring's offline copy: a lost ledger cannot \
            bring back an erasure that a restore undid. See README, 'The ledger'.
            """,
        subcommands: [LedgerInitCommand.self, LedgerVerifyCommand.self]
    )
}

struct LedgerInitCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the ledger directory (0700) and its key file (0600), derived from the keyring.",
        discussion: """
            The key is derived from the keyring (HKDF), so the keyring's offline copy can always derive it again; the \
            key file lets hosts without the keyring (the worker) check and reconcile the ledger. Give the key file to \
            every host that erases, shreds, changes retention or holds, or runs the worker.

            Examples:
              lethe ledger init --keyring /etc/lethe/keyring
              lethe ledger init --keyring ./keyring --ledger /var/lib/lethe/ledger --ledger-key /etc/lethe/ledger.key
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var keyring: KeyringOptions
    @OptionGroup var ledgerOptions: LedgerOptions

    func execute() throws {
        let root = ledgerOptions.directory ?? LedgerOptions.environment("LETHE_LEDGER") ?? Ledger.defaultRoot
        let keyPath = ledgerOptions.keyPath ?? LedgerOptions.environment("LETHE_LEDGER_KEY") ?? Ledger.defaultKeyPath
        let key = LedgerKey(try keyring.load().derivedKey(.ledger))
        try Ledger.prepare(root: root)
        if FileManager.default.fileExists(atPath: keyPath) {
            guard try LedgerKey.load(path: keyPath).fingerprint == key.fingerprint else {
                throw LetheError.config("\(keyPath) holds another ledger key than this keyring's; nothing was changed",
                                        hint: "give the keyring this ledger was made with, or another --ledger-key path")
            }
            Output.line("ledger \(root) ready; key \(keyPath) already present (fingerprint \(key.fingerprint))")
            return
        }
        try key.write(to: keyPath)
        Output.line("ledger \(root) ready; key written to \(keyPath) (fingerprint \(key.fingerprint))")
        Output.line("copy both off this host with the keyring's offline copy; give the key to every host that erases, shreds or runs the worker")
    }
}

struct LedgerVerifyCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every ledger record (authentication, chain, order) and where the database stands against it.",
        discussion: """
            Exit 0 when the ledger verifies and the database is in step with it; 1 when the database is behind (run \
            'lethe reconcile') or the ledger is behind the database (a stale copy); 79 when a record was altered, cut, \
            reordered, removed or forged.

            Examples:
              lethe ledger verify
              lethe ledger verify --json
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var ledgerOptions: LedgerOptions
    @Flag(help: "Print the result as JSON.") var json = false

    func execute() throws {
        let ledger = try ledgerOptions.requiredLedger()
        let comparison = try ledger.compare(try database.connect(for: .worker, .dpo, .operator, .auditor, command: "ledger verify"))
        if json { try Output.json(comparison) } else {
            Output.line("ledger \(ledger.root), database instance \(comparison.instance): \(comparison.ledgerPosition) record(s), all authentic and in order")
            Output.line("database: \(comparison.databasePosition) applied; \(comparison.state.rawValue.replacingOccurrences(of: "_", with: " "))")
        }
        switch comparison.state {
        case .inStep: return
        case .databaseBehind:
            throw LetheError(.checkFailed, "the database lacks \(comparison.missing.count) ledger record(s)", hint: "lethe reconcile (the worker runs it on its own)")
        case .ledgerBehind:
            throw LetheError(.checkFailed, "the ledger is behind the database", hint: "put the current ledger back from its off-host copy")
        case .diverged:
            throw LetheError.integrity("the ledger and the database disagree at record \(comparison.databasePosition)", hint: "check --ledger / LETHE_LEDGER: this is another database's ledger")
        }
    }
}
