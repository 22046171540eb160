import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 33: a table whose time is Unix epoch seconds in a `bigint` (`timestamp_type: epoch_seconds`), as SMS
/// gateways keep it. Purge, its dry run and final check, `inspect`, `partitions ensure` and `partitions adopt`
/// (integer bounds in whole seconds) work on it exactly as on a `timestamptz`: every layout keeps exactly what
/// retention, a shortened retention and a hold allow, and the dry run counts what the run deletes.
@Suite struct EpochTimeTests {
    enum Layout: String, CaseIterable, CustomTestStringConvertible {
        /// A plain table: row sweeps only.
        case unpartitioned
        /// Weekly integer-range partitions made by `partitions ensure`: whole partitions dropped (truncated first).
        case weekly
        /// The same purged by the worker's login through the guarded functions (migration 0022).
        case weeklyAsWorker
        /// A plain table turned into daily partitions by `partitions adopt`, the old table the first partition.
        case adopted

        var testDescription: String { rawValue }
        var partitioned: Bool { self != .unpartitioned }
    }

    static func policyTables(_ layout: Layout) -> String {
        let interval = layout == .adopted ? "P1D" : "P1W"
        return """
              - table: public.gw_log
                timestamp: time
                timestamp_type: epoch_seconds
                customer: account
                retention: P6M
                personal_clear: [receiver]
                phone_clear: [receiver]
                operational: [status]
                backup: true
            \(layout.partitioned ? "    partitioning: { interval: \(interval), ahead: P7D }\n" : "")
            """
    }

    @Test(arguments: Layout.allCases) func anEpochSecondsTableKeepsExactlyWhatRetentionAndHoldsAllow(_ layout: Layout) throws {
        let db = try TestDatabase(migrated: false)
        let directory = try IntakeFixture.directory()
        let policy = try PolicyFixture.adoptedPolicyFile(tables: Self.policyTables(layout), in: directory, options: "phone_validation: length\nphone_without_plus: international\n")
        let keyless = ["--policy", policy, "--database-url", db.conninfo]
        let weekly = layout == .weekly || layout == .weeklyAsWorker
        try db.connection.executeScript("""
            CREATE TABLE public.gw_log (id bigserial, account bigint, time bigint NOT NULL, receiver varchar(20), status text\(weekly ? ", PRIMARY KEY (id, time)) PARTITION BY RANGE (time)" : ", PRIMARY KEY (id))");
            CREATE INDEX ON public.gw_log (time);
            """)
        func run(_ arguments: [String], _ what: String, login: String? = nil) throws -> LetheProcess.Outcome {
            let url = login.map { ["--policy", policy, "--database-url", "\(db.conninfo) user=\($0)"] } ?? keyless
            let outcome = try LetheProcess.run(arguments + url, environment: ["LETHE_KEYRING": ""])
            #expect(outcome.status == 0, "\(what): exit \(outcome.status)\n\(outcome.stdout)\n\(outcome.stderr)")
            return outcome
        }
        _ = try run(["migrate"], "migrate")
        if weekly {
            let from = try db.connection.query("SELECT to_char(now() - interval '205 days', 'YYYY-MM-DD') AS d").single("d").string("d")
            _ = try run(["partitions", "ensure", "--from", from], "partitions ensure")
            let bound = try db.connection.query("""
                SELECT pg_get_expr(c.relpartbound, 0) AS b FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'public.gw_log'::regclass ORDER BY c.relname DESC LIMIT 1
                """).single("bound").string("b")
            #expect(bound.range(of: #"^FOR VALUES FROM \('?\d{10}'?\) TO \('?\d{10}'?\)$"#, options: .regularExpression) != nil,
                    "bounds are whole epoch seconds: \(bound)")
            let list = try run(["partitions", "list"], "partitions list")
            #expect(!list.stdout.contains("unreadable"), "\(list.stdout.prefix(800))")
        }
        // Four owners (an ordinary one, a shortened retention, a hold, no account), two rows a day for 200 days, each
        // half a day off midnight: no row lies within hours of any cutoff, so expectations are exact.
        try db.connection.execute("""
            INSERT INTO public.gw_log (account, time, receiver, status)
            SELECT a, extract(epoch FROM now() - (d + 0.5) * interval '1 day' - r * interval '1 minute')::bigint, '336' || lpad((d * 10 + r)::text, 8, '0'), 'delivered'
            FROM generate_series(0, 199) d, generate_series(0, 1) r, unnest(ARRAY[1, 2, 3, NULL]::bigint[]) a
            """)
        _ = try run(["policy", "check"], "policy check")
        if layout == .adopted {
            _ = try run(["partitions", "adopt", "--table", "public.gw_log"], "partitions adopt")
            let bound = try db.connection.query("SELECT pg_get_expr(relpartbound, 0) AS b FROM pg_class WHERE relname = 'gw_log_p_adopted'").single("bound").string("b")
            #expect(bound.range(of: #"^FOR VALUES FROM \(MINVALUE\) TO \('?\d{10}'?\)$"#, options: .regularExpression) != nil, "\(bound)")
        }
        _ = try run(["retention", "set", "--customer", "2", "--period", "P1M", "--reason", "contract 12"], "retention set")
        _ = try run(["hold", "add", "--customer", "3", "--reason", "court order 7"], "hold add")
        if layout == .weeklyAsWorker {
            _ = try LeastPrivilegeTests.clusterRoles.value()
            _ = try run(["roles", "apply"], "roles apply")
        }
        let survivors = {
            try db.connection.query("SELECT coalesce(account, -1) AS a, count(*) AS n FROM public.gw_log GROUP BY 1 ORDER BY 1").rows
                .map { "\(try $0.int("a")):\(try $0.int("n"))" }
        }
        let expected = try db.connection.query("""
            SELECT coalesce(account, -1) AS a,
                   count(*) FILTER (WHERE account = 3 OR to_timestamp(time) >= now() - CASE WHEN account = 2 THEN interval '1 month' ELSE interval '6 months' END) AS n
            FROM public.gw_log GROUP BY 1 ORDER BY 1
            """).rows.map { "\(try $0.int("a")):\(try $0.int("n"))" }

        // Before the purge `inspect` counts the overdue rows (past their cutoff by more than a day's schedule): the
        // same rows, less those within a day of their cutoff.
        let overdueExpected = try db.connection.query("""
            SELECT count(*) FILTER (WHERE account IS DISTINCT FROM 3 AND to_timestamp(time) < now() - interval '1 day' - CASE WHEN account = 2 THEN interval '1 month' ELSE interval '6 months' END) AS n
            FROM public.gw_log
            """).single("n").int("n")
        let before = try LetheProcess.run(["inspect", "--json"] + keyless)
        let findings = try #require(try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any])["findings"] as? [[String: Any]] ?? []
        let overdue = findings.first { $0["kind"] as? String == "retention_overdue" }
        #expect(before.status == 1 && (overdue?["rows"] as? Int).map(Int64.init) == overdueExpected, "\(overdueExpected) expected: \(before.stdout.prefix(1500))")

        let login = layout == .weeklyAsWorker ? "lp_worker" : nil
        let dry = try run(["purge", "--dry-run", "--json"], "purge --dry-run", login: login)
        let purge = try run(["purge", "--json"], "purge", login: login)
        let (announced, deleted) = (try JSONReport(dry.stdout).totals, try JSONReport(purge.stdout).totals)
        #expect(announced == deleted && deleted["public.gw_log", default: 0] > 300, "the dry run counts what the run deletes: \(announced) \(deleted)")
        #expect(try survivors() == expected, "kept exactly what retention and the hold allow")
        if weekly {
            #expect(purge.stdout.contains("\"partitionsDropped\" : [\n        {"), "whole partitions past the cutoff dropped: \(purge.stdout.prefix(1200))")
        }
        let again = try run(["purge", "--json"], "second purge", login: login)
        #expect(try JSONReport(again.stdout).totals["public.gw_log", default: 0] == 0)
        let inspect = try run(["inspect"], "inspect")
        #expect(!inspect.stdout.contains("overdue") && !inspect.stdout.contains("no partition covers"), "\(inspect.stdout.prefix(1500))")

        guard layout == .weekly || layout == .adopted else { return }
        // A backup restores the integer-bounded layout (and an adopted table's MINVALUE partition) with its rows.
        let keyring = directory + "/keyring", repo = directory + "/repo"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let backup = try LetheProcess.run(["backup", "--keyring", keyring, "--repo", repo] + keyless)
        #expect(backup.status == 0, "\(backup.stderr)")
        let id = try #require(try FileManager.default.contentsOfDirectory(atPath: repo).first { $0.hasSuffix(".lethe-backup") }).replacingOccurrences(of: ".lethe-backup", with: "")
        let target = try TestDatabase(migrated: false)
        let restore = try LetheProcess.run(["restore", id, "--target-database", target.conninfo, "--keyring", keyring, "--repo", repo] + keyless)
        #expect(restore.status == 0, "\(restore.stdout) \(restore.stderr)")
        let restored = try target.connection.query("SELECT coalesce(account, -1) AS a, count(*) AS n FROM public.gw_log GROUP BY 1 ORDER BY 1").rows
            .map { "\(try $0.int("a")):\(try $0.int("n"))" }
        #expect(restored == expected, "\(restored)")
    }

    /// The declaration and the column must agree: an integer time column without `timestamp_type: epoch_seconds`,
    /// or the declaration on a timestamp column, is refused by `policy check` with the fix; a misuse of the key is
    /// refused when the policy loads.
    @Test func policyCheckRefusesATimeDeclarationTheColumnDoesNotBear() throws {
        let db = try TestDatabase(migrated: false)
        let directory = try IntakeFixture.directory()
        let declared = Self.policyTables(.unpartitioned)
        let untyped = try PolicyFixture.adoptedPolicyFile(tables: declared.replacingOccurrences(of: "    timestamp_type: epoch_seconds\n", with: ""), in: directory, name: "untyped.yaml")
        let typed = try PolicyFixture.adoptedPolicyFile(tables: declared, in: directory, name: "typed.yaml")
        try db.connection.executeScript("""
            CREATE TABLE public.gw_log (id bigserial PRIMARY KEY, account bigint, time bigint NOT NULL, receiver varchar(20), status text);
            CREATE TABLE public.gw_other (id bigserial PRIMARY KEY, account bigint, time timestamptz NOT NULL, receiver text, status text);
            """)
        #expect(try LetheProcess.run(["migrate", "--policy", typed, "--database-url", db.conninfo]).status == 0)
        let refused = try LetheProcess.run(["policy", "check", "--policy", untyped, "--database-url", db.conninfo])
        #expect(refused.status != 0 && refused.stderr.contains("is bigint") && refused.stderr.contains("timestamp_type: epoch_seconds"), "\(refused.stdout) \(refused.stderr)")
        #expect(try LetheProcess.run(["policy", "check", "--policy", typed, "--database-url", db.conninfo]).status == 0)
        let wrongColumn = try PolicyFixture.adoptedPolicyFile(tables: declared.replacingOccurrences(of: "public.gw_log", with: "public.gw_other"), in: directory, name: "other.yaml")
        let mismatch = try LetheProcess.run(["policy", "check", "--policy", wrongColumn, "--database-url", db.conninfo])
        #expect(mismatch.status != 0 && mismatch.stderr.contains("is timestamp with time zone, expected bigint or integer"), "\(mismatch.stderr)")
        for (bad, message) in [("timestamp_type: epoch_seconds\n    timestamp_zone: UTC", "drop timestamp_zone"), ("timestamp_type: epoch_millis", "is not a timestamp type")] {
            let file = try PolicyFixture.adoptedPolicyFile(tables: declared.replacingOccurrences(of: "timestamp_type: epoch_seconds", with: bad), in: directory, name: "bad.yaml")
            let outcome = try LetheProcess.run(["policy", "check", "--policy", file])
            #expect(outcome.status == 65 && outcome.stderr.contains(message), "\(outcome.stderr)")
        }
    }
}
