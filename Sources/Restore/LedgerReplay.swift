import Audit
import Foundation
import Keys
import Ledger
import LetheCore
import Logging
import Policy
import Postgres
import Purge
import Subject

/// `lethe reconcile`, the worker's check, and a restore whose live database is unreachable: the ledger's records
/// the database lacks, re-applied in order, each in its own transaction with one audit record and the database's
/// ledger position moved past it, so a kill at any instant leaves a rerun to finish. Idempotent: a record whose
/// effect the database already has (a crash after the commit) changes nothing but the position.
public struct LedgerReplay {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let ledger: Ledger
    /// With a keyring, an erased person's rows are also found by blind index; without (the worker), by the ids the
    /// erasure recorded.
    let keyring: Keyring?
    let logger: Logger

    public init(db: PostgresConnection, policy: RetentionPolicy, ledger: Ledger, keyring: Keyring?, logger: Logger = Logger(label: "lethe.reconcile")) {
        self.db = db
        self.policy = policy
        self.ledger = ledger
        self.keyring = keyring
        self.logger = logger
    }

    public struct Applied: Sendable, Encodable {
        public let record: Int64
        public let action: String
        public let what: String
        /// False when the database already had its effect.
        public var changed = false
        public var rowsErasedAgain = 0
        public var keysDestroyedAgain = 0
    }

    public struct Report: Sendable, Encodable {
        public let dryRun: Bool
        public let instance: String
        public let state: LedgerComparison.State
        public let databasePosition: Int64
        public let ledgerPosition: Int64
        public var applied: [Applied] = []
        /// True when something the database lacked was put back (exit 1).
        public var reapplied: Bool { applied.contains { $0.changed } || (!dryRun && !applied.isEmpty) }
    }

    /// Compares, then (unless `dryRun`) applies what the database lacks. A ledger behind the database is reported
    /// and nothing is changed; a diverged or unverifiable one is refused (79).
    public func run(dryRun: Bool) throws -> Report {
        let comparison = try ledger.compare(db)
        var report = Report(dryRun: dryRun, instance: comparison.instance, state: comparison.state, databasePosition: comparison.databasePosition,
                            ledgerPosition: comparison.ledgerPosition)
        switch comparison.state {
        case .inStep, .ledgerBehind: return report
        case .diverged:
            throw LetheError.integrity("the ledger \(ledger.root) and the database disagree at record \(comparison.databasePosition); nothing was applied",
                                       hint: "this is another database's ledger, or one of them was replaced: check --ledger / LETHE_LEDGER")
        case .databaseBehind: break
        }
        for record in comparison.missing {
            var applied = Applied(record: record.seq, action: record.entry.action.rawValue, what: record.entry.summary)
            if dryRun {
                report.applied.append(applied)
                continue
            }
            try db.transaction {
                try db.execute("SELECT pg_advisory_xact_lock(\(.int(Ledger.writerLock)))")
                try apply(record, &applied)
                try AuditLog.append(db, action: "reconcile", target: "ledger record \(record.seq)", details: [
                    "action": .string(record.entry.action.rawValue), "changed": .bool(applied.changed),
                    "rows_erased_again": .int(Int64(applied.rowsErasedAgain)), "keys_destroyed_again": .int(Int64(applied.keysDestroyedAgain)),
                ])
                try LedgerPosition.advance(db, to: record)
            }
            logger.info("re-applied a ledger record", metadata: ["record": .stringConvertible(record.seq), "action": "\(record.entry.action.rawValue)",
                                                                  "changed": .stringConvertible(applied.changed)])
            report.applied.append(applied)
        }
        return report
    }

    private func apply(_ record: LedgerRecord, _ applied: inout Applied) throws {
        let entry = record.entry
        switch entry.action {
        case .erasure:
            guard let tombstone = Tombstones.Tombstone(entry, record: record.seq) else { throw unreadable(record) }
            let present = try Tombstones(db).ids().contains(tombstone.id)
            applied.rowsErasedAgain = try TombstoneReplay(target: db, policy: policy, keyring: keyring, logger: logger).replay(tombstone, present: present)
            applied.changed = !present || applied.rowsErasedAgain > 0
        case .shred:
            guard let customer = entry.customerId else { throw unreadable(record) }
            let shreds = (entry.keyIds ?? []).map { KeyAdministration.Shred(keyId: $0, customerId: customer, shreddedAt: entry.shreddedAt ?? record.at) }
            applied.keysDestroyedAgain = try KeyAdministration.replay(shreds, into: db, policy: policy)
            applied.changed = applied.keysDestroyedAgain > 0
        case .retentionSet, .retentionClear:
            guard let customer = entry.customerId else { throw unreadable(record) }
            applied.changed = try RetentionOverrides(db, policy: policy).reapply(customer: customer, period: entry.action == .retentionSet ? entry.period : nil,
                                                                                  record: record.seq)
        case .holdRelease:
            guard let customer = entry.customerId, let hold = entry.holdId else { throw unreadable(record) }
            applied.changed = try LegalHolds(db, policy: policy).reapplyRelease(hold: hold, customer: customer)
        }
    }

    private func unreadable(_ record: LedgerRecord) -> LetheError {
        LetheError.integrity("ledger record \(record.seq) (\(record.entry.action.rawValue)) lacks what its replay needs; nothing of it was applied",
                             hint: "it authenticates, so the binary that wrote it is newer than this one: upgrade lethe, then rerun")
    }
}
