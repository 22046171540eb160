import Foundation
import LetheCore
import Postgres

/// Where a database stands against its ledger: `lethe.ledger_state` beside the ledger's verified records.
public struct LedgerComparison: Sendable, Encodable {
    public enum State: String, Sendable, Encodable {
        /// The database has applied every record, and no more.
        case inStep = "in_step"
        /// The ledger holds records the database lacks: a physical or point-in-time restore, a snapshot, or a crash
        /// between the record and its commit. `lethe reconcile` re-applies them.
        case databaseBehind = "database_behind"
        /// The database applied records the ledger lacks: a lost or stale ledger copy. Reported, never "fixed".
        case ledgerBehind = "ledger_behind"
        /// The same position holds another record: this database and this ledger are not each other's.
        case diverged
    }

    public let state: State
    public let instance: String
    public let databasePosition: Int64
    public let ledgerPosition: Int64
    /// The mac of the last record the database applied (the genesis value before the first).
    public let databaseHead: String
    /// The records the database lacks, oldest first (for `databaseBehind`).
    public let missing: [LedgerRecord]

    enum CodingKeys: String, CodingKey { case state, instance, databasePosition, ledgerPosition }
}

/// Lethe's row in `lethe.ledger_state`.
public struct LedgerPosition: Sendable {
    public let instance: String
    public let position: Int64
    public let head: String

    public static func read(_ db: PostgresConnection) throws -> LedgerPosition {
        let row = try db.query("SELECT instance::text AS instance, position, head FROM lethe.ledger_state").single("ledger state")
        return LedgerPosition(instance: try row.string("instance"), position: try row.int("position"), head: try row.string("head"))
    }

    /// Records `record` as applied (in the caller's transaction); refused if another run moved the position.
    public static func advance(_ db: PostgresConnection, to record: LedgerRecord) throws {
        try db.execute("SELECT lethe.ledger_advance(\(.int(record.seq)), \(.text(record.mac)))")
    }
}

extension Ledger {
    public func compare(_ db: PostgresConnection) throws -> LedgerComparison {
        let position = try LedgerPosition.read(db)
        let records = try records(instance: position.instance)
        let count = Int64(records.count)
        let state: LedgerComparison.State
        if position.position > count {
            state = .ledgerBehind
        } else if position.position > 0 && records[Int(position.position) - 1].mac != position.head {
            state = .diverged
        } else {
            state = position.position == count ? .inStep : .databaseBehind
        }
        return LedgerComparison(state: state, instance: position.instance, databasePosition: position.position, ledgerPosition: count, databaseHead: position.head,
                                missing: state == .databaseBehind ? Array(records[Int(position.position)...]) : [])
    }

    /// Appends `entry` for an action the caller's open transaction has just done (its audit record included), then
    /// advances the database's position in that same transaction: the record is on disk before the commit, so a
    /// crash between the two leaves the ledger ahead (reconcile applies it), never behind. Refused while the
    /// database and the ledger are not in step: a record appended to a rolled-back database would fork the chain.
    public func append(_ entry: LedgerEntry, in db: PostgresConnection, at date: Date = Date()) throws -> LedgerRecord {
        // One writer at a time per database; the row lock of lethe.ledger_state is taken only by the advance, after
        // the record is written.
        try db.execute("SELECT pg_advisory_xact_lock(\(.int(Self.writerLock)))")
        let comparison = try compare(db)
        switch comparison.state {
        case .inStep: break
        case .databaseBehind:
            throw LetheError.config("the database is behind its ledger (\(comparison.databasePosition) of \(comparison.ledgerPosition) records applied): it was restored, or a run crashed before its commit; nothing was changed",
                                    hint: "run 'lethe reconcile' first (the worker does it on its own), then rerun")
        case .ledgerBehind:
            throw LetheError.config("the ledger \(root) is behind the database (\(comparison.ledgerPosition) records, the database applied \(comparison.databasePosition)): a stale or lost ledger copy; nothing was changed",
                                    hint: "put the current ledger back (from its off-host copy) and rerun; see README, 'The ledger'")
        case .diverged:
            throw LetheError.integrity("the ledger \(root) and the database disagree at record \(comparison.databasePosition); nothing was changed",
                                       hint: "this is another database's ledger, or one of them was replaced: check --ledger / LETHE_LEDGER")
        }
        let audit = try db.query("SELECT id, hash FROM lethe.audit_log ORDER BY id DESC LIMIT 1").first
        let record = try write(entry, seq: comparison.ledgerPosition + 1, prev: comparison.databaseHead, instance: comparison.instance,
                               audit: try audit.map { (try $0.int("id"), try $0.string("hash")) }, at: date)
        try LedgerPosition.advance(db, to: record)
        return record
    }

    /// The advisory lock (transaction level) that serializes ledger writers of one database: "LTHLEDGR".
    public static let writerLock: Int64 = 0x4C54_484C_4544_4752
}
