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
        /// From the start of Lethe's run until no row older than six months before that start remains.
        var letheUnreachableSeconds = 0.0
        var deleteSeconds = 0.0, vacuumSeconds = 0.0, deleteWAL: Int64 = 0, deleteRemoved: Int64 = 0
    }

    func run() throws {
        // The catch-up run (a year of history, first run or after weeks of downtime); the daily run is SteadyStateBench.
        let sizes = [1_000_000, 5_000_000].map { max(10_000, Int(Double($0) * scale)) }
        say("== purge catch-up: Lethe vs DELETE + VACUUM (messages over 12 months, default daily layout; scale \(scale)) ==")
        say("(targets at 5M: at least 10x faster and at least 1,000x less WAL; inserts during the purge: p99 at most 1.5x idle)")
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
            let floor = try measureFloors(admin, figures)
            say(floor.text)
            // Issue 30's catch-up targets, against PostgreSQL's own non-blocking floor on the same data.
            say(String(format: "  issue 30 targets: no row past the cutoff after %@ (whole run %@), %@ sooner than DELETE+VACUUM (target >= 10x); WAL %@ psql's DETACH CONCURRENTLY + DROP (target <= 1.1x)",
                         seconds(figures.letheUnreachableSeconds), seconds(figures.letheSeconds),
                         ratio((figures.deleteSeconds + figures.vacuumSeconds) / figures.letheUnreachableSeconds),
                         ratio(Double(figures.letheWAL) / Double(max(floor.wal, 1)))))
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

    /// The source database: migrated, partitions laid out as `policyPath` says from `monthsBack` months ago,
    /// `rows` messages spread evenly over `span` (an SQL interval) before now, frozen.
    /// Partitions start at the interval holding the oldest row (steady state: nothing older is left to drop).
    func build(_ admin: PostgresConnection, rows: Int, span: String = "interval '365 days'", monthsBack: Int = 13,
               policyPath: String = "Policies/default.yaml", partitionsFromOldestRow: Bool = false, inTimeOrder: Bool = false) throws {
        try admin.execute("DROP DATABASE IF EXISTS lethe_bench_src WITH (FORCE)")
        try admin.execute("CREATE DATABASE lethe_bench_src")
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_src")
        _ = try Migrator(set: try MigrationSet.embedded()).migrate(on: db)
        let policy = try PolicyLoader.load(path: policyPath)
        let now = try DatabaseClock.now(db)
        let oldest = try db.query("SELECT (now() - \(span))::text AS t").single("oldest").string("t")
        let from = partitionsFromOldestRow ? PostgresTimestamp.parse(oldest) ?? now : Month.adding(months: -monthsBack, to: now)
        _ = try PartitionCatalog().ensure(db, policy: policy, now: now, from: from)
        try db.execute("INSERT INTO sms.customers (id, name) SELECT g, 'customer ' || g FROM generate_series(1, 10) g")
        let (_, load) = try measure {
            try db.execute("""
                INSERT INTO sms.messages (id, customer_id, created_at, recipient, recipient_bidx, body, encoding, segments)
                SELECT g, 1 + g % 10, \(inTimeOrder ? "now() - \(span) * (1 - g::float8 / $1)" : "now() - ((g * 7919) % (extract(epoch FROM \(span))::bigint)) * interval '1 second'"),
                       int8send(g) || int8send(g * 31), int4send(g::int),
                       int8send(g) || int8send(g * 7) || int8send(g * 11) || int8send(g * 13) || int8send(g * 17) || int8send(g * 19), 'gsm7', 1
                FROM generate_series(1::bigint, $1::bigint) g
                """, [.int(Int64(rows))])
            try db.execute("VACUUM (FREEZE, ANALYZE) sms.messages")
        }
        say(String(format: "  (generated %d rows in %.1f s)", rows, load))
    }

    func copy(_ admin: PostgresConnection, to name: String) throws {
        try admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try admin.execute("CHECKPOINT")
        try admin.execute("CREATE DATABASE \(name) TEMPLATE lethe_bench_src STRATEGY FILE_COPY")
    }

    func measureLethe(_ admin: PostgresConnection, _ figures: inout Figures, policyPath: String = "Policies/default.yaml") throws {
        // Generating and copying gigabytes of data evicts lethe's 100 MB binary from the page cache; the first run
        // then spent ~0.1 s reading it back, as much as the whole daily purge. The baseline's psql and server are
        // already in memory, so lethe is loaded once before it is timed.
        _ = try runMeasured(lethe, ["--version"])
        try admin.execute("CHECKPOINT")
        let start = try walPosition(admin)
        let watcher = try ExpiredRowsWatcher(conninfo: "dbname=lethe_bench_a")
        let (outcome, elapsed) = try measure { try runMeasured(lethe, ["purge", "--policy", policyPath, "--database-url", "dbname=lethe_bench_a"]) }
        figures.letheUnreachableSeconds = watcher.stop() ?? elapsed
        guard outcome.status == 0 else { throw LetheError.software("lethe purge exited \(outcome.status)") }
        figures.letheWAL = try walBytes(admin, since: start)
        figures.letheSeconds = elapsed
        figures.lethePeakKiB = outcome.peakKiB
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_a")
        figures.letheRemoved = try db.query("SELECT coalesce(sum(rows_deleted), 0)::bigint AS n FROM lethe.purge_run_items").single("n").int("n")
    }

    func measureDelete(_ admin: PostgresConnection, _ figures: inout Figures) throws {
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

    /// The partitions a six-month purge of the bench data removes (upper bound at or before the ceiling cutoff),
    /// as PostgreSQL itself would be told to remove them: one `DETACH … CONCURRENTLY` and one `DROP` each.
    func partitionDrops(_ db: PostgresConnection) throws -> (concurrent: String, oneStatement: String, count: Int) {
        let rows = try db.query("""
            SELECT format('%I.%I', pn.nspname, p.relname) AS parent, format('%I.%I', cn.nspname, c.relname) AS partition
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
            JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
            WHERE pn.nspname = 'sms' AND p.relname IN ('messages', 'delivery_reports') AND c.relkind = 'r'
              AND (regexp_match(pg_get_expr(c.relpartbound, 0), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz <= now() - interval '6 months'
            ORDER BY 2
            """)
        let pairs: [(String, String)] = try rows.rows.map { (try $0.string("parent"), try $0.string("partition")) }
        let concurrent = pairs.map { "ALTER TABLE \($0.0) DETACH PARTITION \($0.1) CONCURRENTLY;\nDROP TABLE \($0.1);\n" }.joined()
        return (concurrent, "DROP TABLE " + pairs.map(\.1).joined(separator: ", ") + ";\n", pairs.count)
    }

    /// Runs `sql` from a file through psql (each statement its own transaction, stopping at the first error).
    func runPsqlScript(_ sql: String, database: String) throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-bench-floor-\(getpid()).sql").path
        try sql.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let outcome = try runMeasured("/usr/bin/psql", ["-q", "-v", "ON_ERROR_STOP=1", "-d", database, "-f", script])
        guard outcome.status == 0 else { throw LetheError.software("psql floor script exited \(outcome.status)") }
    }

    /// PostgreSQL's own floor on a third copy of the same data, with no tool in between: what any purge of this
    /// layout can reach. Without blocking inserts: `DETACH … CONCURRENTLY` + `DROP` per partition from psql.
    /// Blocking them: every partition in one `DROP TABLE` statement (ACCESS EXCLUSIVE on both parents for the
    /// whole run, which no purge may do; the physical bound of dropping this many relations).
    func measureFloors(_ admin: PostgresConnection, _ figures: Figures) throws -> (text: String, seconds: Double, wal: Int64) {
        let baseline = figures.deleteSeconds + figures.vacuumSeconds
        var parts: [String] = []
        var floorSeconds = 0.0, floorWAL: Int64 = 0
        for (label, blocking) in [("non-blocking", false), ("blocking", true)] {
            try copy(admin, to: "lethe_bench_c")
            let db = try PostgresConnection(conninfo: "dbname=lethe_bench_c")
            let drops = try partitionDrops(db)
            try admin.execute("CHECKPOINT")
            let start = try walPosition(admin)
            let (_, elapsed) = try measure { try runPsqlScript(blocking ? drops.oneStatement : drops.concurrent, database: "lethe_bench_c") }
            let wal = try walBytes(admin, since: start)
            if !blocking { (floorSeconds, floorWAL) = (elapsed, wal) }
            parts.append(String(format: "%@ %@, WAL %@ (%@ faster, %@ less WAL than DELETE+VACUUM)", label, seconds(elapsed), megabytes(wal),
                                ratio(baseline / elapsed), ratio(Double(figures.deleteWAL) / Double(max(wal, 1)))))
            if blocking { parts.insert("\(drops.count) partitions", at: 0) }
        }
        try admin.execute("DROP DATABASE IF EXISTS lethe_bench_c WITH (FORCE)")
        return ("  PostgreSQL's floor, the same partitions dropped from psql: " + parts.joined(separator: "; "), floorSeconds, floorWAL)
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
    func measureLatency(_ admin: PostgresConnection, policyPath: String = "Policies/default.yaml") throws {
        try copy(admin, to: "lethe_bench_a")
        try copy(admin, to: "lethe_bench_b")
        let idle = InsertLatencyProbe(conninfo: "dbname=lethe_bench_a", customer: 5)
        Thread.sleep(forTimeInterval: 2)
        let idleFigures = idle.finish()
        let duringLethe = InsertLatencyProbe(conninfo: "dbname=lethe_bench_a", customer: 5)
        let lethe = try runMeasured(self.lethe, ["purge", "--policy", policyPath, "--database-url", "dbname=lethe_bench_a"])
        let letheFigures = duringLethe.finish()
        guard lethe.status == 0 else { throw LetheError.software("lethe purge exited \(lethe.status)") }
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_b")
        let duringDelete = InsertLatencyProbe(conninfo: "dbname=lethe_bench_b", customer: 5)
        try db.execute("DELETE FROM sms.messages WHERE created_at < now() - interval '6 months'")
        try db.execute("VACUUM sms.messages")
        let deleteFigures = duringDelete.finish()
        // The same purge by a login in lethe_worker (issue 14): no ownership, so partitions leave through the
        // guarded function's short exclusive detach instead of DETACH … CONCURRENTLY.
        try copy(admin, to: "lethe_bench_a")
        let roles = try runMeasured(self.lethe, ["roles", "apply", "--policy", policyPath, "--database-url", "dbname=lethe_bench_a"])
        guard roles.status == 0 else { throw LetheError.software("lethe roles apply exited \(roles.status)") }
        try admin.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lethe_bench_worker') THEN CREATE ROLE lethe_bench_worker LOGIN; END IF; END $$")
        try admin.execute("GRANT lethe_worker TO lethe_bench_worker")
        let duringGuarded = InsertLatencyProbe(conninfo: "dbname=lethe_bench_a", customer: 5)
        let (guarded, guardedSeconds) = try measure {
            try runMeasured(self.lethe, ["purge", "--policy", policyPath, "--database-url", "dbname=lethe_bench_a user=lethe_bench_worker"])
        }
        let guardedFigures = duringGuarded.finish()
        guard guarded.status == 0 else { throw LetheError.software("lethe purge as lethe_worker exited \(guarded.status): \(guarded.output)") }
        // PostgreSQL's own floor, no tool in between: the same partitions detached concurrently and dropped from
        // one psql; and a psql that only connects and runs SELECT 1 (what starting any client costs on this machine).
        try copy(admin, to: "lethe_bench_c")
        let drops = try partitionDrops(try PostgresConnection(conninfo: "dbname=lethe_bench_c"))
        let duringRaw = InsertLatencyProbe(conninfo: "dbname=lethe_bench_c", customer: 5)
        try runPsqlScript(drops.concurrent, database: "lethe_bench_c")
        let rawFigures = duringRaw.finish()
        let duringBare = InsertLatencyProbe(conninfo: "dbname=lethe_bench_c", customer: 5)
        let bare = try runMeasured("/usr/bin/psql", ["-q", "-d", "lethe_bench_c", "-c", "SELECT 1"])
        let bareFigures = duringBare.finish()
        guard bare.status == 0 else { throw LetheError.software("psql SELECT 1 exited \(bare.status)") }
        try admin.execute("DROP DATABASE IF EXISTS lethe_bench_c WITH (FORCE)")
        for (label, figures) in [("idle", idleFigures), ("during Lethe", letheFigures), ("during Lethe as lethe_worker (guarded)", guardedFigures),
                                 ("during DELETE+VACUUM", deleteFigures),
                                 ("during psql's own DETACH CONCURRENTLY + DROP of the same \(drops.count) partitions (floor)", rawFigures),
                                 ("during a psql that only runs SELECT 1 (floor)", bareFigures)] {
            say(String(format: "  concurrent inserts %@: %d inserts, p99 %.2f ms (%@ idle), max %.2f ms, failed %d (targets: p99 <= 1.5x idle, max < lock_timeout 200 ms)",
                         label, figures.count, figures.p99, ratio(figures.p99 / max(idleFigures.p99, 0.001)), figures.max, figures.failures))
        }
        say(String(format: "  issue 30 target: insert p99 during Lethe %.2fx psql's own DETACH CONCURRENTLY + DROP p99 (target <= 1.2x)",
                   letheFigures.p99 / max(rawFigures.p99, 0.001)))
        say(String(format: "  lethe_worker (guarded) purge: %@; p99 during it %.2fx the owner's (the cost of exclusive detaches inside SECURITY DEFINER functions)",
                   seconds(guardedSeconds), guardedFigures.p99 / max(letheFigures.p99, 0.001)))
    }
}

/// Polls, on its own connection, whether any message older than six months before it started remains (through
/// the index on created_at): when the catch-up has made every expired row unreachable, whatever is left to tidy.
final class ExpiredRowsWatcher: @unchecked Sendable {
    private let state = Locked((stop: false, firstEmpty: Double?.none))
    private let done = DispatchSemaphore(value: 0)

    init(conninfo: String) throws {
        let started = Date()
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [state, done] in
            defer { done.signal() }
            guard let db = try? PostgresConnection(conninfo: conninfo),
                  let cutoff = try? db.query("SELECT (now() - interval '6 months')::text AS c").single("cutoff").string("c") else {
                ready.signal()
                return
            }
            ready.signal()
            while !state.value.stop {
                let any = (try? db.query("SELECT EXISTS (SELECT 1 FROM sms.messages WHERE created_at < \(.text(cutoff))::timestamptz) AS any")
                    .single("any").bool("any")) ?? true
                if !any {
                    state.withLock { $0.firstEmpty = Date().timeIntervalSince(started) }
                    return
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        thread.start()
        ready.wait()
    }

    /// Seconds until none was left, nil if some still were.
    func stop() -> Double? {
        state.withLock { $0.stop = true }
        done.wait()
        return state.value.firstEmpty
    }
}
