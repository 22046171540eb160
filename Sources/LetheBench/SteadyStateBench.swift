import Foundation
import LetheCore
import Postgres

/// The run cron actually makes, once a day for years: data spread over six months and one day, so each run
/// removes one day. Rows are written in time order, as an application appends the messages it sends (the
/// catch-up section's random order would scatter the cutoff day's first minutes over every page of it). Run by scripts/bench.sh against a PostgreSQL whose clock libfaketime sets to 00:05 UTC
/// (the recommended schedule), Lethe with the default daily layout and with a monthly one, each against
/// DELETE + VACUUM on a copy of the same data.
struct SteadyStateBench {
    let scale: Double
    let lethe: String

    func run() throws {
        let purge = PurgeBench(scale: scale, lethe: lethe)
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        let clock = try admin.query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS now").single("clock").string("now")
        say("== purge steady state: the daily run (data over six months and one day; database clock \(clock) UTC; scale \(scale)) ==")
        say("(targets at 10M, daily layout: at least 10x faster and 10x less WAL than DELETE+VACUUM; Lethe's time and WAL within 1.5x from 1M to 10M;")
        say(" inserts during the purge: p99 at most 1.5x idle)")
        let monthly = try monthlyPolicy()
        defer { try? FileManager.default.removeItem(atPath: monthly) }
        let sizes = [1_000_000, 10_000_000].map { max(10_000, Int(Double($0) * scale)) }
        var daily: [PurgeBench.Figures] = []
        for rows in sizes {
            for (layout, policyPath) in [("daily", "Policies/default.yaml"), ("monthly", monthly)] {
                try purge.build(admin, rows: rows, span: "(now() - (now() - interval '6 months' - interval '1 day'))",
                                policyPath: policyPath, partitionsFromOldestRow: true, inTimeOrder: true)
                var figures = PurgeBench.Figures(rows: rows)
                try purge.copy(admin, to: "lethe_bench_a")
                try purge.copy(admin, to: "lethe_bench_b")
                try purge.measureLethe(admin, &figures, policyPath: policyPath)
                try purge.measureDelete(admin, &figures)
                say(String(format: "%9d rows, %@ partitions | Lethe %@, WAL %@, removed %lld | DELETE %@ + VACUUM %@, WAL %@, removed %lld | %@ faster, %@ less WAL",
                             rows, layout, seconds(figures.letheSeconds), megabytes(figures.letheWAL), figures.letheRemoved,
                             seconds(figures.deleteSeconds), seconds(figures.vacuumSeconds), megabytes(figures.deleteWAL), figures.deleteRemoved,
                             ratio((figures.deleteSeconds + figures.vacuumSeconds) / figures.letheSeconds),
                             ratio(Double(figures.deleteWAL) / Double(max(figures.letheWAL, 1)))))
                if layout == "daily" {
                    daily.append(figures)
                    if rows == sizes.last { try purge.measureLatency(admin, policyPath: policyPath) }
                }
            }
        }
        if let small = daily.first, let large = daily.last {
            say(String(format: "growth %dx in rows, daily layout: Lethe time %@, WAL %@ (target within 1.5x); DELETE+VACUUM time %@, WAL %@",
                         large.rows / small.rows, ratio(large.letheSeconds / small.letheSeconds),
                         ratio(Double(large.letheWAL) / Double(max(small.letheWAL, 1))),
                         ratio((large.deleteSeconds + large.vacuumSeconds) / (small.deleteSeconds + small.vacuumSeconds)),
                         ratio(Double(large.deleteWAL) / Double(max(small.deleteWAL, 1)))))
        }
        for name in ["lethe_bench_src", "lethe_bench_a", "lethe_bench_b"] { try admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
    }

    /// The default policy with monthly partitions, the layout of Lethe's first versions.
    private func monthlyPolicy() throws -> String {
        let text = try String(contentsOfFile: "Policies/default.yaml", encoding: .utf8)
            .replacingOccurrences(of: "interval: P1D, ahead: P30D", with: "interval: P1M, ahead: P3M")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-bench-monthly-\(getpid()).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
