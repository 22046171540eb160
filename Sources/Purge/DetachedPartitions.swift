import LetheCore
import Postgres

/// The second half of a partition drop: count and drop a table parked in schema lethe by a detach, and
/// record it in the ledger, in one transaction that locks nothing the application uses.
struct DetachedPartitions {
    let db: PostgresConnection
    /// The run credited with the removal: the one that finishes it.
    let run: Int64

    func finish(_ relation: String) throws {
        try db.transaction {
            guard let note = try db.query("""
                SELECT table_name, partition_name, rows_kept FROM lethe.purge_detached WHERE relation = $1 FOR UPDATE
                """, [.text(relation)]).first else { return }
            let table = try QualifiedName(parsing: relation)
            let rows = try db.query("SELECT count(*) AS n FROM \(table.quoted)").single("count").int("n")
            let kept = try note.int("rows_kept")
            try db.execute("DROP TABLE \(table.quoted)")
            try db.execute("""
                INSERT INTO lethe.purge_run_items (run_id, table_name, partition_name, rows_deleted, rows_kept, partitions_dropped)
                VALUES ($1, $2, $3, $4, $5, 1)
                ON CONFLICT (run_id, table_name, customer_id, partition_name) DO UPDATE
                SET rows_deleted = lethe.purge_run_items.rows_deleted + EXCLUDED.rows_deleted, rows_kept = EXCLUDED.rows_kept,
                    partitions_dropped = lethe.purge_run_items.partitions_dropped + 1
                """, [.int(run), .text(try note.string("table_name")), .text(try note.string("partition_name")), .int(rows - kept), .int(kept)])
            try db.execute("DELETE FROM lethe.purge_detached WHERE relation = $1", [.text(relation)])
        }
    }

    /// Tables parked by an interrupted run, finished before anything else.
    func finishLeftovers() throws -> Int {
        let relations = try db.query("SELECT relation FROM lethe.purge_detached ORDER BY detached_at").rows.map { try $0.string("relation") }
        for relation in relations { try finish(relation) }
        return relations.count
    }
}
