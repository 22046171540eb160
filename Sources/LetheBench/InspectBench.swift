import Foundation
import LetheCore
import Policy
import Postgres
import Schema

/// Issue 13's inspect section: the full `lethe inspect` pass on 5M sealed-looking messages (one scan of the
/// table for its personal columns, the catalog for the rest), and the same with --sample 1.
struct InspectBench {
    let scale: Double
    let lethe: String

    func run() throws {
        let rows = max(10_000, Int(5_000_000 * scale))
        say("== inspect: full pass on \(rows) messages (target under 10 s) ==")
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        try admin.execute("DROP DATABASE IF EXISTS lethe_bench_inspect WITH (FORCE)")
        try admin.execute("CREATE DATABASE lethe_bench_inspect")
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_inspect")
        _ = try Migrator(set: try MigrationSet.embedded()).migrate(on: db)
        let now = try DatabaseClock.now(db)
        _ = try PartitionCatalog().ensure(db, policy: try PolicyLoader.load(path: "Policies/default.yaml"), now: now,
                                          from: Month.adding(months: -6, to: now))
        try db.execute("INSERT INTO sms.customers (id, name) SELECT g, 'customer ' || g FROM generate_series(1, 10) g")
        // Envelope-shaped values (header LTH, version 1, 24-byte header, ciphertext, 16-byte tag): what intake writes.
        let (_, load) = try measure {
            try db.execute("""
                INSERT INTO sms.messages (id, customer_id, created_at, recipient, recipient_bidx, body, encoding, segments)
                SELECT g, 1 + g % 10, now() - ((g * 7919) % 15552000) * interval '1 second',
                       '\\x4c544801'::bytea || int8send(g) || int8send(g * 3) || int8send(g * 5) || int8send(g * 7) || int8send(g * 11) || int8send(g * 13),
                       int4send(g::int),
                       '\\x4c544801'::bytea || int8send(g) || int8send(g * 17) || int8send(g * 19) || int8send(g * 23) || int8send(g * 29)
                           || int8send(g * 31) || int8send(g * 37) || int8send(g * 41), 'gsm7', 1
                FROM generate_series(1::bigint, $1::bigint) g
                """, [.int(Int64(rows))])
            try db.execute("VACUUM (FREEZE, ANALYZE) sms.messages")
        }
        say(String(format: "  (generated %d rows in %.1f s)", rows, load))
        try admin.execute("CHECKPOINT")
        for arguments in [["inspect"], ["inspect", "--sample", "1"]] {
            let (outcome, elapsed) = try measure { try runMeasured(lethe, arguments + ["--database-url", "dbname=lethe_bench_inspect"]) }
            say(String(format: "  lethe %@: %@, %.0f rows/s, exit %d (0: no finding), peak RSS %.1f MB",
                         arguments.joined(separator: " "), seconds(elapsed), Double(rows) / elapsed, outcome.status, Double(outcome.peakKiB) / 1024))
        }
        try admin.execute("DROP DATABASE IF EXISTS lethe_bench_inspect WITH (FORCE)")
    }
}
