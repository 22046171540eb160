import Foundation
import Keys
import Ledger
import LetheCore
import Logging
import Postgres
import Restore

/// The worker's check at start and before every job (issue 32): a database behind its ledger was rolled back (a
/// physical or point-in-time restore, a snapshot) or a run crashed between its ledger record and its commit. Before
/// anything else runs, the ledger's records are re-applied (`lethe reconcile`), with an ECS line at `warning`
/// (`event.action: reconcile`) and the `lethe_reconcile_records_total` counter. A ledger behind the database (a
/// stale copy) is logged and never "fixed"; a ledger that does not verify stops the jobs.
public struct LedgerGuard {
    let settings: JobSettings
    let logger: Logger

    public init(settings: JobSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// True when jobs may run.
    public func check(_ db: PostgresConnection) -> Bool {
        guard let ledger = settings.ledger, let policy = settings.policy else { return true }
        do {
            let comparison = try ledger.compare(db)
            switch comparison.state {
            case .inStep:
                return true
            case .ledgerBehind:
                logger.warning("the ledger is behind the database (a stale or lost copy): nothing is re-applied or deleted", metadata: [
                    "event.action": "reconcile", "event.outcome": "unknown", "ledger.position": .stringConvertible(comparison.ledgerPosition),
                    "ledger.database_position": .stringConvertible(comparison.databasePosition),
                    "hint": "put the current ledger back from its off-host copy",
                ])
                return true
            case .diverged:
                logger.error("the ledger and the database disagree: no job runs", metadata: [
                    "event.action": "reconcile", "event.outcome": "failure", "ledger.database_position": .stringConvertible(comparison.databasePosition),
                    "hint": "check --ledger / LETHE_LEDGER: this is another database's ledger",
                ])
                return false
            case .databaseBehind:
                logger.warning("the database is behind its ledger (restored, or a run crashed before its commit): reconciling before any job", metadata: [
                    "event.action": "reconcile", "ledger.position": .stringConvertible(comparison.ledgerPosition),
                    "ledger.database_position": .stringConvertible(comparison.databasePosition),
                ])
                let keyring = try settings.keyringPath.map(Keyring.load)
                let report = try LedgerReplay(db: db, policy: policy, ledger: ledger, keyring: keyring, logger: logger).run(dryRun: false)
                logger.warning("reconciled the database with its ledger", metadata: [
                    "event.action": "reconcile", "event.outcome": "success", "ledger.records_reapplied": .stringConvertible(report.applied.count),
                    "rows_erased_again": .stringConvertible(report.applied.reduce(0) { $0 + $1.rowsErasedAgain }),
                    "keys_destroyed_again": .stringConvertible(report.applied.reduce(0) { $0 + $1.keysDestroyedAgain }),
                ])
                return true
            }
        } catch {
            let lethe = error.asLetheError
            logger.error("could not check or reconcile the database with its ledger: no job runs", metadata: [
                "event.action": "reconcile", "event.outcome": "failure", "error.message": "\(lethe.message)",
                "hint": "\(lethe.hint ?? lethe.code.defaultHint)",
            ])
            return false
        }
    }
}
