import Foundation
import Postgres
import TestSupport
import Testing

/// Commands and options no other test ran (issue 34), each run as an operator or the DPO would, with what it
/// must print and change, and no personal value in what it prints.
@Suite struct CommandCoverageTests {
    static let london = (national: "07700 900123", e164: "+447700900123")

    func setUp() throws -> (TestDatabase, String, [String]) {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais')")
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        return (db, directory, ["--database-url", db.conninfo, "--keyring", directory + "/keyring"])
    }

    func count(_ db: TestDatabase, _ sql: String) throws -> Int64 { try db.connection.query(sql).single("count").int("n") }

    /// `import --format jsonl` (the name says nothing), `--default-region`, `--skip-invalid`, then `subject export`
    /// and `subject erase` with `--region`: the same national number, read in the same region, is the same person.
    @Test func importOptionsAndRegionalLookupsThroughTheBinary() throws {
        let (db, directory, common) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let jsonl = try IntakeFixture.write("{\"phone\": \"\(Self.london.national)\", \"message\": \"Kestrel at nine\"}\n", name: "rows.txt", in: directory)
        let imported = try LetheProcess.run(["import", "messages", jsonl, "--customer", "1", "--format", "jsonl", "--default-region", "GB"] + common)
        #expect(imported.status == 0, "\(imported.stderr)")
        let csv = try IntakeFixture.write("phone,message\n\(Self.london.national),Heron at ten\nnot a number,Osprey\n", name: "rows.csv", in: directory)
        let refused = try LetheProcess.run(["import", "messages", csv, "--customer", "2", "--default-region", "GB"] + common)
        #expect(refused.status == 65, "\(refused.status): \(refused.stderr)")
        #expect(try count(db, "SELECT count(*) AS n FROM sms.messages WHERE customer_id = 2") == 0, "a refused file writes nothing")
        let skipped = try LetheProcess.run(["import", "messages", csv, "--customer", "2", "--default-region", "GB", "--skip-invalid"] + common)
        #expect([0, 1].contains(skipped.status) && (skipped.stdout + skipped.stderr).contains("3"), "the invalid row is named by its line: \(skipped.stdout)\(skipped.stderr)")
        #expect(try count(db, "SELECT count(*) AS n FROM sms.messages WHERE customer_id = 2") == 1, "the valid row is written")

        let out = directory + "/export"
        let export = try LetheProcess.run(["subject", "export", "--phone", Self.london.national, "--region", "GB", "--out", out, "--json"] + common)
        #expect(export.status == 0, "\(export.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out)
        let bodies = try files.map { try String(contentsOfFile: out + "/" + $0, encoding: .utf8) }.joined()
        #expect(bodies.contains("Kestrel at nine") && bodies.contains("Heron at ten"), "both customers' rows of the person, found by the national form")
        // Read in another region the same digits are no valid number: refused, with the international form as hint.
        let elsewhere = try LetheProcess.run(["subject", "erase", "--phone", Self.london.national, "--region", "FR", "--dry-run"] + common)
        #expect(elsewhere.status == 65 && elsewhere.stderr.contains("HINT:"), "\(elsewhere.status): \(elsewhere.stdout)\(elsewhere.stderr)")
        let erase = try LetheProcess.run(["subject", "erase", "--phone", Self.london.national, "--region", "GB"] + common)
        #expect(erase.status == 0, "\(erase.stderr)")
        #expect(try count(db, "SELECT count(*) AS n FROM sms.messages") == 0)
        for outcome in [imported, refused, skipped, export, elsewhere, erase] {
            for secret in ["7700", "Kestrel", "Heron", "Osprey"] { #expect(!(outcome.stdout + outcome.stderr).contains(secret), "\(secret) printed") }
        }
    }

    /// `retention set` then `retention clear`, `audit list` showing both (ids and actions, no value), `backup show`.
    @Test func retentionClearAuditListAndBackupShow() throws {
        let (db, directory, common) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = ["--database-url", db.conninfo]
        #expect(try LetheProcess.run(["retention", "set", "--customer", "1", "--period", "P3M", "--reason", "contract"] + database).status == 0)
        #expect(try count(db, "SELECT count(*) AS n FROM lethe.retention_overrides WHERE customer_id = 1") == 1)
        let cleared = try LetheProcess.run(["retention", "clear", "--customer", "1"] + database)
        #expect(cleared.status == 0, "\(cleared.stderr)")
        let shown = try LetheProcess.run(["retention", "show"] + database)
        #expect(shown.status == 0 && !shown.stdout.contains("P3M"), "no override left: \(shown.stdout)")
        let audit = try LetheProcess.run(["audit", "list"] + database)
        #expect(audit.status == 0, "\(audit.stderr)")
        let actions = audit.stdout.split(separator: "\n").filter { $0.contains("retention") }
        #expect(actions.count >= 2, "set and clear are listed: \(audit.stdout)")
        #expect(!audit.stdout.contains("Cabinet"), "no customer name")

        #expect(try LetheProcess.run(["backup", "--repo", directory + "/repo"] + common).status == 0)
        let id = try #require(try FileManager.default.contentsOfDirectory(atPath: directory + "/repo").first { $0.hasSuffix(".lethe-backup") })
            .replacingOccurrences(of: ".lethe-backup", with: "")
        let show = try LetheProcess.run(["backup", "show", id, "--repo", directory + "/repo"])
        #expect(show.status == 0 && show.stdout.contains(id) && show.stdout.contains("sms.customers"), "\(show.stdout)\(show.stderr)")
        #expect(!show.stdout.contains("Cabinet"))
        let missing = try LetheProcess.run(["backup", "show", "20000101T000000Z-dead", "--repo", directory + "/repo"])
        #expect(missing.status == 66 && missing.stderr.contains("HINT:"), "\(missing.status): \(missing.stderr)")
    }

    /// `inspect --sample`: values checked in a sample, said so; a sample outside (0, 100] is a usage error.
    @Test func inspectWithASample() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let sampled = try LetheProcess.run(["inspect", "--sample", "100", "--database-url", db.conninfo])
        #expect(sampled.status == 1 && sampled.stdout.contains("UNSEALED_VALUE"), "a whole-table sample finds the clear values: \(sampled.stdout)")
        let clean = try TestDatabase()
        let none = try LetheProcess.run(["inspect", "--sample", "5", "--table", "sms.templates", "--database-url", clean.conninfo])
        #expect(none.stdout.contains("5.0% sample") || none.status == 1, "\(none.status): \(none.stdout)")
        #expect(try LetheProcess.run(["inspect", "--sample", "0", "--database-url", db.conninfo]).status == 64)
    }

    /// `roles apply --dry-run` changes nothing; `roles apply` twice in a row is the same as once.
    @Test func rolesApplyDryRunAndTwice() throws {
        _ = try LeastPrivilegeTests.clusterRoles.value()
        let db = try TestDatabase()
        let grants = {
            try db.connection.query("""
                SELECT string_agg(c.oid::regclass::text || '=' || coalesce(c.relacl::text, ''), ';' ORDER BY c.oid::regclass::text) AS acl
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('lethe', 'sms')
                """).single("acl").string("acl")
        }
        let before = try grants()
        let dry = try LetheProcess.run(["roles", "apply", "--dry-run", "--database-url", db.conninfo])
        #expect(dry.status == 0 && dry.stdout.contains("GRANT"), "\(dry.stdout)\(dry.stderr)")
        #expect(try grants() == before, "a dry run grants nothing")
        #expect(try LetheProcess.run(["roles", "apply", "--database-url", db.conninfo]).status == 0)
        let once = try grants()
        #expect(once != before)
        let again = try LetheProcess.run(["roles", "apply", "--database-url", db.conninfo])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try grants() == once, "applying twice is applying once")
    }

    /// A detach left pending (a `DETACH … CONCURRENTLY` cancelled in its second phase) is shown by `partitions list`.
    @Test func partitionsListShowsAPendingDetach() throws {
        let db = try TestDatabase()
        #expect(try LetheProcess.run(["partitions", "ensure", "--database-url", db.conninfo]).status == 0)
        let partition = try db.connection.query("""
            SELECT c.oid::regclass::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'sms.delivery_reports'::regclass ORDER BY c.relname LIMIT 1
            """).single("partition").string("name")
        let reader = try db.newConnection()
        try reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try reader.execute("SELECT count(*) FROM sms.delivery_reports")
        let detacher = try db.newConnection()
        let pid = try detacher.query("SELECT pg_backend_pid() AS pid").single("pid").int("pid")
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let detaching = detacher
        Thread {
            _ = try? detaching.executeScript("ALTER TABLE sms.delivery_reports DETACH PARTITION \(partition) CONCURRENTLY")
            finished.signal()
        }.start()
        // Its first phase has committed (the partition is marked pending) and it waits for the reader's snapshot.
        #expect(try KnownPoint.until {
            try db.connection.query("SELECT inhdetachpending AS p FROM pg_inherits WHERE inhrelid = $1::regclass", [.text(partition)])
                .first?.bool("p") == true
        }, "the detach is pending")
        try db.connection.execute("SELECT pg_cancel_backend($1::int)", [.int(pid)])
        finished.wait()
        try reader.execute("ROLLBACK")
        let list = try LetheProcess.run(["partitions", "list", "--database-url", db.conninfo])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.split(separator: "\n").contains { $0.contains(partition.split(separator: ".").last!) && $0.contains("(detach pending)") }, "\(list.stdout)")
    }
}
