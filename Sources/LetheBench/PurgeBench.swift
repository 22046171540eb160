import Foundation
import LetheCore
import Policy
import Postgres
import Schema

/// Issue 4's purge section: Lethe's six-month purge against `DELETE ... WHERE created_at < cutoff` plus the
/// `VACUUM` it needs, on two identical copies of the same generated data.
struct PurgeBench {
    let scale: Double
    let lethe: String

    struct Figures {
        let rows: Int
        var letheSeconds = 0.0, letheWAL: Int64 = 0, lethePeakKiB: Int64 = 0, letheRemoved: Int64 = 0
        var deleteSeconds = 0.0, vacuumSeconds = 0.0, deleteWAL: Int64 = 0, deleteRemoved: Int64 = 0
    }

    func run() throws {
        let sizes = [1_000_000, 5_000_000, 10_000_000].map { max(10_000, Int(Double($0) * scale)) }
        say("== purge: Lethe vs DELETE + VACUUM (messages over 12 months; scale \(scale)) ==")
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        var all: [Figures] = []
        for (index, rows) in sizes.enumerated() {
            try build(admin, rows: rows)
            var figures = Figures(rows: rows)
            try copy(admin, to: "lethe_bench_a")
            try copy(admin, to: "lethe_bench_b")
            try measureLethe(admin, &figures)
            try measureDelete(admin, &figures)
            all.append(figures)
            say(String(format: "%9d rows | Lethe %@, WAL %@, peak RSS %.1f MB, removed %lld | DELETE %@ + VACUUM %@, WAL %@, removed %lld | time %@, WAL %@",
                         rows, seconds(figures.letheSeconds), megabytes(figures.letheWAL), Double(figures.lethePeakKiB) / 1024, figures.letheRemoved,
                         seconds(figures.deleteSeconds), seconds(figures.vacuumSeconds), megabytes(figures.deleteWAL), figures.deleteRemoved,
                         ratio((figures.deleteSeconds + figures.vacuumSeconds) / figures.letheSeconds),
                         ratio(Double(figures.deleteWAL) / Double(max(figures.letheWAL, 1)))))
            if index == 1 {
                try measureCustomerPath(admin)
                try measureLatency(admin)
            }
        }
        if let small = all.first, let large = all.last {
            say(String(format: "growth %dx in rows: Lethe time %@ (target within 2x), DELETE+VACUUM time %@, Lethe peak RSS %@",
                         large.rows / small.rows, ratio(large.letheSeconds / small.letheSeconds),
                         ratio((large.deleteSeconds + large.vacuumSeconds) / (small.deleteSeconds + small.vacuumSeconds)),
                         ratio(Double(large.lethePeakKiB) / Double(small.lethePeakKiB))))
        }
        for name in ["lethe_bench_src", "lethe_bench_a", "lethe_bench_b"] { try admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
    }

    /// The source database: migrated, 13 months of partitions, `rows` messages spread evenly over 12 months, frozen.
    private func build(_ admin: PostgresConnection, rows: Int) throws {
        try admin.execute("DROP DATABASE IF EXISTS lethe_bench_src WITH (FORCE)")
        try admin.execute("CREATE DATABASE lethe_bench_src")
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_src")
        _ = try Migrator(set: try MigrationSet.embedded()).migrate(on: db)
        let policy = try PolicyLoader.load(path: "Policies/default.yaml")
        let now = try DatabaseClock.now(db)
        _ = try PartitionCatalog().ensure(db, policy: policy, now: now, from: Month.adding(months: -13, to: now))
        try db.execute("INSERT INTO sms.customers (id, name) SELECT g, 'customer ' || g FROM generate_series(1, 10) g")
        let (_, load) = try measure {
            try db.execute("""
                INSERT INTO sms.messages (id, customer_id, created_at, recipient, recipient_bidx, body, encoding, segments)
                SELECT g, 1 + g % 10, now() - ((g * 7919) % 31536000) * interval '1 second',
                       int8send(g) || int8send(g * 31), int4send(g::int),
                       int8send(g) || int8send(g * 7) || int8send(g * 11) || int8send(g * 13) || int8send(g * 17) || int8send(g * 19), 'gsm7', 1
                FROM generate_series(1::bigint, $1::bigint) g
                """, [.int(Int64(rows))])
            try db.execute("VACUUM (FREEZE, ANALYZE) sms.messages")
        }
        say(String(format: "  (generated %d rows in %.1f s)", rows, load))
    }

    private func copy(_ admin: PostgresConnection, to name: String) throws {
        try admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try admin.execute("CHECKPOINT")
        try admin.execute("CREATE DATABASE \(name) TEMPLATE lethe_bench_src STRATEGY FILE_COPY")
    }

    private func measureLethe(_ admin: PostgresConnection, _ figures: inout Figures) throws {
        try admin.execute("CHECKPOINT")
        let start = try walPosition(admin)
        let (outcome, elapsed) = try measure { try runMeasured(lethe, ["purge", "--database-url", "dbname=lethe_bench_a"]) }
        guard outcome.status == 0 else { throw LetheError.software("lethe purge exited \(outcome.status)") }
        figures.letheWAL = try walBytes(admin, since: start)
        figures.letheSeconds = elapsed
        figures.lethePeakKiB = outcome.peakKiB
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_a")
        figures.letheRemoved = try db.query("SELECT coalesce(sum(rows_deleted), 0)::bigint AS n FROM lethe.purge_run_items").single("n").int("n")
    }

    private func measureDelete(_ admin: PostgresConnection, _ figures: inout Figures) throws {
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_b")
        try admin.execute("CHECKPOINT")
        let start = try walPosition(admin)
        let (removed, deleteTime) = try measure { try db.execute("DELETE FROM sms.messages WHERE created_at < now() - interval '6 months'") }
        let (_, vacuumTime) = try measure { try db.execute("VACUUM sms.messages") }
        figures.deleteWAL = try walBytes(admin, since: start)
        figures.deleteSeconds = deleteTime
        figures.vacuumSeconds = vacuumTime
        figures.deleteRemoved = Int64(removed)
    }

    /// (b) The batched per-customer path: after the six-month purge, three customers (30% of the rows) shorten
    /// their retention to 30 days; the next run deletes their rows between the two cutoffs.
    private func measureCustomerPath(_ admin: PostgresConnection) throws {
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_a")
        try db.execute("""
            INSERT INTO lethe.retention_overrides (customer_id, period, period_interval, reason, set_by_os_user)
            SELECT g, 'P30D', 'P30D', 'bench', 'bench' FROM generate_series(1, 3) g
            """)
        let before = try db.query("SELECT coalesce(sum(rows_deleted), 0)::bigint AS n FROM lethe.purge_run_items").single("n").int("n")
        let (outcome, elapsed) = try measure { try runMeasured(lethe, ["purge", "--database-url", "dbname=lethe_bench_a"]) }
        guard outcome.status == 0 else { throw LetheError.software("lethe purge exited \(outcome.status)") }
        let after = try db.query("SELECT coalesce(sum(rows_deleted), 0)::bigint AS n FROM lethe.purge_run_items").single("n").int("n")
        let rows = after - before
        say(String(format: "  per-customer path: %lld rows in %@ = %.0f rows/s (target >= 200,000 rows/s)", rows, seconds(elapsed), Double(rows) / elapsed))
    }

    /// (c) p99 and max latency of single-row inserts from a concurrent client, idle and during each method.
    private func measureLatency(_ admin: PostgresConnection) throws {
        try copy(admin, to: "lethe_bench_a")
        try copy(admin, to: "lethe_bench_b")
        let idle = InsertLatencyProbe(conninfo: "dbname=lethe_bench_a", customer: 5)
        Thread.sleep(forTimeInterval: 2)
        let idleFigures = idle.finish()
        let duringLethe = InsertLatencyProbe(conninfo: "dbname=lethe_bench_a", customer: 5)
        let lethe = try runMeasured(self.lethe, ["purge", "--database-url", "dbname=lethe_bench_a"])
        let letheFigures = duringLethe.finish()
        guard lethe.status == 0 else { throw LetheError.software("lethe purge exited \(lethe.status)") }
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_b")
        let duringDelete = InsertLatencyProbe(conninfo: "dbname=lethe_bench_b", customer: 5)
        try db.execute("DELETE FROM sms.messages WHERE created_at < now() - interval '6 months'")
        try db.execute("VACUUM sms.messages")
        let deleteFigures = duringDelete.finish()
        for (label, figures) in [("idle", idleFigures), ("during Lethe", letheFigures), ("during DELETE+VACUUM", deleteFigures)] {
            say(String(format: "  concurrent inserts %@: %d inserts, p99 %.2f ms, max %.2f ms, failed %d (target p99 < 5 ms, max < lock_timeout 200 ms)",
                         label, figures.count, figures.p99, figures.max, figures.failures))
        }
    }
}
