import Foundation
import LetheCore
import Logging
import Postgres
import Schema

/// The second half of a partition drop: count and drop tables that a detach took out of their parent, and
/// record them in the ledger, in one transaction that locks nothing the application uses. Every detach is
/// noted in `lethe.purge_detached` before it starts, so whatever a kill interrupts, the next run finishes.
struct DetachedPartitions {
    let db: PostgresConnection
    /// The run credited with the removal: the one that finishes it.
    let run: Int64
    /// Policy table -> its customer column, to check detached rows against holds placed meanwhile.
    /// Table -> its rows' customer id in SQL (`CustomerKey.sql`).
    let customerColumns: [String: SQL]
    let lockTimeoutMilliseconds: Int
    let logger: Logger

    struct Outcome {
        var dropped = 0
        /// Partitions attached back because a customer with rows in them was put on hold after the plan.
        var reattached: [String] = []
    }

    /// Drops `relations` (detached tables noted in `lethe.purge_detached`) in one transaction, so a catch-up
    /// pays one commit for many partitions. Holds are frozen for the transaction: a detached table that now
    /// holds rows of a customer on hold is attached back whole under its old bounds, never dropped.
    @discardableResult
    func finish(_ relations: [String]) throws -> Outcome {
        guard !relations.isEmpty else { return Outcome() }
        return try LockTimeoutRetry(attempts: 20, logger: logger).transaction(db, "dropping detached partitions") {
            var outcome = Outcome()
            try db.setLockTimeout(milliseconds: lockTimeoutMilliseconds, local: true)
            try db.execute("LOCK TABLE lethe.legal_holds IN SHARE MODE")
            let held = try LegalHolds.activeCustomerIds(db)
            for relation in relations {
                guard let note = try db.query("""
                    SELECT n.table_name, n.partition_name, n.rows_kept, n.bound, n.holds_checked,
                           to_regclass(n.relation) IS NOT NULL AS present,
                           EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = to_regclass(n.relation)) AS attached
                    FROM lethe.purge_detached n WHERE n.relation = \(.text(relation)) FOR UPDATE
                    """).first else { continue }
                let tableName = try note.string("table_name")
                // Killed before its detach began (still attached, the planner will see it again) or already gone.
                if try note.bool("attached") || !note.bool("present") {
                    try forget(relation)
                    continue
                }
                let table = try QualifiedName(parsing: relation)
                if try !note.bool("holds_checked"), !held.isEmpty, let customer = customerColumns[tableName] {
                    let heldRows = try db.query("SELECT count(*) AS n FROM \(table) WHERE \(customer) = ANY (\(held)::bigint[])").single("held").int("n")
                    if heldRows > 0, let bound = try note.optionalString("bound") {
                        // The bound clause is PostgreSQL's own rendering, read from the catalog before the detach.
                        try db.execute("ALTER TABLE \(try QualifiedName(parsing: tableName)) ATTACH PARTITION \(table) \(unsafeRaw: bound)")
                        try forget(relation)
                        outcome.reattached.append(relation)
                        logger.warning("a customer with rows in a detached partition was put on hold; attached it back",
                                       metadata: ["partition": "\(relation)", "rows_held": .stringConvertible(heldRows)])
                        continue
                    }
                }
                let rows = try db.query("SELECT count(*) AS n FROM \(table)").single("count").int("n")
                let kept = try note.int("rows_kept")
                try db.execute("DROP TABLE \(table)")
                try db.execute("""
                    INSERT INTO lethe.purge_run_items (run_id, table_name, partition_name, rows_deleted, rows_kept, partitions_dropped)
                    VALUES (\(.int(run)), \(.text(tableName)), \(.text(try note.string("partition_name"))), \(.int(rows - kept)), \(.int(kept)), 1)
                    ON CONFLICT (run_id, table_name, customer_id, partition_name) DO UPDATE
                    SET rows_deleted = lethe.purge_run_items.rows_deleted + EXCLUDED.rows_deleted, rows_kept = EXCLUDED.rows_kept,
                        partitions_dropped = lethe.purge_run_items.partitions_dropped + 1
                    """)
                try forget(relation)
                outcome.dropped += 1
            }
            return outcome
        }
    }

    /// Removes a partition's note from `lethe.purge_detached`.
    func forget(_ relation: String) throws {
        try db.execute("DELETE FROM lethe.purge_detached WHERE relation = \(.text(relation))")
    }

    /// Work an interrupted run left: partitions half-detached by a killed `DETACH … CONCURRENTLY` are finalized,
    /// then every noted table is dropped. Runs before planning, so the plan sees the table as it really is.
    func finishLeftovers() throws -> Int {
        let notes = try db.query("""
            SELECT n.relation, n.table_name, coalesce(i.inhdetachpending, false) AS pending
            FROM lethe.purge_detached n LEFT JOIN pg_inherits i ON i.inhrelid = to_regclass(n.relation)
            ORDER BY n.detached_at, n.relation
            """).rows
        for note in notes where try note.bool("pending") {
            let parent = try QualifiedName(parsing: note.string("table_name"))
            let partition = try QualifiedName(parsing: note.string("relation"))
            try PartitionDetach(db: db, lockTimeoutMilliseconds: lockTimeoutMilliseconds, attempts: 20, logger: logger)
                .detach(partition, from: parent)
        }
        let relations = try notes.map { try $0.string("relation") }
        return try finish(relations).dropped
    }
}

/// `ALTER TABLE … DETACH PARTITION … CONCURRENTLY`: takes only SHARE UPDATE EXCLUSIVE on the parent, so inserts
/// never queue behind it. It cannot run in a transaction block and commits twice internally; a kill or a lock
/// timeout between the two leaves the partition "detach pending", which `FINALIZE` completes.
struct PartitionDetach {
    let db: PostgresConnection
    let lockTimeoutMilliseconds: Int
    let attempts: Int
    let logger: Logger

    enum State { case attached, pending, detached }

    func state(of partition: QualifiedName) throws -> State {
        guard let row = try db.query("SELECT inhdetachpending AS pending FROM pg_inherits WHERE inhrelid = to_regclass(\(.text(partition.quoted)))").first else { return .detached }
        return try row.bool("pending") ? .pending : .attached
    }

    /// Detaches (or finishes detaching) `partition`, retrying on lock timeouts with back-off. Throws the last
    /// lock timeout when every attempt failed; the partition is then attached or pending, never lost.
    func detach(_ partition: QualifiedName, from parent: QualifiedName) throws {
        // Session settings: the statement runs outside any transaction.
        try db.setLockTimeout(milliseconds: lockTimeoutMilliseconds)
        defer { _ = try? db.execute("RESET lock_timeout") }
        // Each attempt reads the state again: a timed-out CONCURRENTLY leaves the partition pending, to FINALIZE.
        try LockTimeoutRetry(attempts: attempts, logger: logger).run("detaching \(partition)") {
            let mode: SQL
            switch try state(of: partition) {
            case .detached: return
            case .pending: mode = "FINALIZE"
            case .attached: mode = "CONCURRENTLY"
            }
            try db.executeScript("ALTER TABLE \(parent) DETACH PARTITION \(partition) \(mode)")
        }
    }
}
