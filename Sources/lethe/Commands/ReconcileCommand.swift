import ArgumentParser
import Foundation
import Keys
import Ledger
import LetheCore
import Restore

struct ReconcileCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Re-apply what the ledger holds and the database lacks, after a physical or point-in-time restore.",
        discussion: """
            Compares the database with the ledger and re-applies, in order, every record the database lacks: the rows \
            of erased people deleted again and their tombstones put back, shredded data keys destroyed again, retention \
            overrides and hold releases restored, each with an audit record. Nothing is re-applied from a ledger that \
            does not verify. A ledger behind the database (a stale copy) is reported and nothing is deleted.

            Run it as the operator's role. With a keyring an erased person's rows are also found by blind index; \
            without one (the worker) by the row ids the erasure recorded.

            Exit 0 when nothing was missing, 1 when something was re-applied (the report says what, by ids and counts), \
            78 when the ledger is behind the database, 79 when the ledger does not authenticate or its chain is broken.

            Examples:
              lethe reconcile --dry-run
              lethe reconcile --json
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @OptionGroup var ledgerOptions: LedgerOptions
    @Flag(name: .customLong("dry-run"), help: "Say what would be re-applied; change nothing.") var dryRun = false
    @Flag(help: "Print the report as JSON.") var json = false

    func execute() throws {
        let policy = try policyOptions.load()
        let keys = try keyring.path.map(Keyring.load)
        let ledger = try ledgerOptions.requiredLedger(keyring: keys)
        let db = try database.connect(for: .operator, command: "reconcile", policy: policy)
        let report = try LedgerReplay(db: db, policy: policy, ledger: ledger, keyring: keys).run(dryRun: dryRun)
        if json { try Output.json(report) } else {
            Output.line("ledger \(ledger.root): \(report.ledgerPosition) record(s); the database had applied \(report.databasePosition)")
            for applied in report.applied {
                let effect = dryRun ? "would re-apply" : applied.changed ? "re-applied" : "already in effect"
                var counts = ""
                if applied.rowsErasedAgain > 0 { counts += ", \(applied.rowsErasedAgain) row(s) erased again" }
                if applied.keysDestroyedAgain > 0 { counts += ", \(applied.keysDestroyedAgain) key(s) destroyed again" }
                Output.line("record \(applied.record): \(applied.what): \(effect)\(counts)")
            }
            if report.applied.isEmpty && report.state == .inStep { Output.line("nothing to re-apply: the database is in step with its ledger") }
        }
        if report.state == .ledgerBehind {
            throw LetheError.config("the ledger is behind the database (\(report.ledgerPosition) record(s), the database applied \(report.databasePosition)): a stale or lost copy; nothing was changed",
                                    hint: "put the current ledger back from its off-host copy; Lethe never deletes anything to match a ledger")
        }
        if !report.applied.isEmpty {
            throw LetheError(.checkFailed, "\(dryRun ? "would re-apply" : "re-applied") \(report.applied.count) ledger record(s) the database lacked (a restore rolled it back, or a run crashed before its commit)",
                             hint: dryRun ? "run 'lethe reconcile' to re-apply them" : "nothing more to do; 'lethe ledger verify' now exits 0")
        }
    }
}
