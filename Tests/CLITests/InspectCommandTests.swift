import Backup
import Foundation
import Keys
import LetheCore
import Policy
import Postgres
import Schema
import TestSupport
import Testing

@Suite struct InspectCommandTests {
    /// A migrated database with its partitions, as `lethe migrate` and `lethe partitions ensure` leave it.
    func fresh() throws -> TestDatabase {
        let db = try TestDatabase()
        #expect(try LetheProcess.run(["partitions", "ensure", "--database-url", db.conninfo]).status == 0)
        return db
    }

    @Test func aFreshDatabaseIsCleanAndEveryDriftIsNamed() throws {
        let db = try fresh()
        let clean = try LetheProcess.run(["inspect", "--database-url", db.conninfo])
        #expect(clean.status == 0 && clean.stdout.contains("no finding"), "\(clean.stdout)")

        try db.connection.execute("ALTER TABLE sms.contacts ADD COLUMN email text")
        let column = try LetheProcess.run(["inspect", "--database-url", db.conninfo])
        #expect(column.status == 1)
        #expect(column.stdout.contains("UNDECLARED_COLUMN sms.contacts.email:"))
        #expect(column.stdout.contains("HINT:"))

        try db.connection.execute("CREATE TABLE sms.marketing_optins (id bigint, phone text)")
        let table = try LetheProcess.run(["inspect", "--database-url", db.conninfo])
        #expect(table.status == 1 && table.stdout.contains("UNDECLARED_TABLE sms.marketing_optins:"))
    }

    /// Names Lethe did not choose (mixed case, spaces, a quote) are listed, counted and backed up, not fatal:
    /// they used to abort inspect and backup with "invalid SQL identifier".
    @Test func tablesAndColumnsNamedInAnyCaseAreInspectedAndBackedUp() throws {
        let (db, directory, options) = try BackupFixture.commandLineSetUp(contacts: 20)
        try db.connection.execute(#"CREATE TABLE sms."Marketing Optins" (id bigint, "Phone" text)"#)
        try db.connection.execute(#"INSERT INTO sms."Marketing Optins" VALUES (1, 'x'), (2, 'y')"#)
        try db.connection.execute(#"ALTER TABLE sms.contacts ADD COLUMN "E""mail" text"#)
        let inspect = try LetheProcess.run(["inspect", "--database-url", db.conninfo])
        #expect(inspect.status == 1, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("UNDECLARED_TABLE sms.Marketing Optins:") && inspect.stdout.contains("2 rows"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains(#"UNDECLARED_COLUMN sms.contacts.E"mail:"#), "\(inspect.stdout)")
        let backup = try LetheProcess.run(["backup", "--json"] + options)
        #expect(backup.status == 0, "\(backup.stderr)")
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        let id = try #require(manifest["id"] as? String)
        let target = try TestDatabase(migrated: false)
        let restore = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + options)
        #expect(restore.status == 0, "\(restore.stderr)")
        // Undeclared, it stays out of the restore: only the policy's tables' data comes back, into Lethe's schema.
        #expect(try target.connection.query(#"SELECT to_regclass('sms."Marketing Optins"') IS NULL AS gone"#).single("gone").bool("gone"))
        #expect(try target.connection.query("SELECT count(*) AS n FROM sms.contacts").single("n").int("n") > 0)
        _ = directory
    }

    @Test func oneUnsealedValueIsCountedAndNeverPrinted() throws {
        let db = try fresh()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'c')")
        // Three rows shaped like envelopes (header LTH, version 1, customer 1's data key 7, 40+ bytes), then a code
        // path writes plaintext into one.
        try db.connection.execute("INSERT INTO lethe.customer_keys (key_id, customer_id, kek_id, wrapped) VALUES (7, 1, 1, '\\x00')")
        try db.connection.execute("""
            INSERT INTO sms.messages (id, customer_id, recipient, recipient_bidx, body, encoding, segments)
            SELECT g, 1, '\\x4c5448010000000000000007'::bytea || decode(repeat('ab', 40), 'hex'), '\\x01020304'::bytea,
                   '\\x4c5448010000000000000007'::bytea || decode(repeat('cd', 40), 'hex'), 'gsm7', 1 FROM generate_series(1, 3) g
            """)
        #expect(try LetheProcess.run(["inspect", "--database-url", db.conninfo]).status == 0)
        let secret = "Bonjour Camille, votre code est 482913"
        try db.connection.execute("UPDATE sms.messages SET body = convert_to($1, 'UTF8') WHERE id = 2", [.text(secret)])
        let text = try LetheProcess.run(["inspect", "-v", "--database-url", db.conninfo])
        #expect(text.status == 1)
        #expect(text.stdout.contains("UNSEALED_VALUE sms.messages.body: personal values that are not sealed envelopes, 1 row"), "\(text.stdout)")
        #expect(text.stdout.split(separator: "\n").filter { $0.hasPrefix("UNSEALED_VALUE") }.count == 1)
        let json = try LetheProcess.run(["inspect", "--json", "--database-url", db.conninfo])
        #expect(json.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let findings = try #require(object["findings"] as? [[String: Any]])
        let unsealed = try #require(findings.first { $0["kind"] as? String == "unsealed_value" })
        #expect(unsealed["subject"] as? String == "sms.messages.body")
        #expect(unsealed["rows"] as? Int == 1)
        #expect(unsealed["rowIds"] as? [Int] == [2])
        for output in [text.stdout, text.stderr, json.stdout, json.stderr] {
            #expect(!output.contains("Camille") && !output.contains("482913"))
        }
        // A plaintext that happens to begin with the header bytes (LTH, version 2) and is long enough: it names no
        // data key of its customer, so it is still found.
        try db.connection.execute("UPDATE sms.messages SET body = '\\x4c544802'::bytea || convert_to(repeat('Bonjour Camille ', 4), 'UTF8') WHERE id = 3")
        let shaped = try LetheProcess.run(["inspect", "--database-url", db.conninfo])
        #expect(shaped.stdout.contains("UNSEALED_VALUE sms.messages.body: personal values that are not sealed envelopes, 2 rows"), "\(shaped.stdout)")
    }

    @Test func overdueRequestsAndStaleBackupsAreFindings() throws {
        let db = try fresh()
        let received = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-32 * 86_400)).prefix(10)
        #expect(try LetheProcess.run(["requests", "open", "--kind", "access", "--reference", "DPO-1", "--received", String(received),
                                      "--database-url", db.conninfo]).status == 0)
        let requests = try LetheProcess.run(["inspect", "--database-url", db.conninfo])
        #expect(requests.status == 1 && requests.stdout.contains("REQUESTS_OVERDUE requests:"), "\(requests.stdout)")

        // A repository whose newest backup is two days old.
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        let repository = try BackupRepository(directory: directory + "/repo")
        _ = try BackupJob(db: db.connection, conninfo: db.conninfo, policy: try PolicyFixture.defaultPolicy(),
                          sealing: .keyring(try Keyring.load(path: directory + "/keyring")), repository: repository)
            .dated(Date().addingTimeInterval(-2 * 86_400)).run()
        let stale = try LetheProcess.run(["inspect", "--repo", directory + "/repo", "--json", "--database-url", db.conninfo])
        #expect(stale.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(stale.stdout.utf8)) as? [String: Any])
        let kinds = (object["findings"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        #expect(kinds.contains("stale_backup") && kinds.contains("requests_overdue"), "\(kinds)")
    }

    @Test func missingPartitionsAndRetentionOverdueAreFindings() throws {
        let db = try TestDatabase()
        let bare = try LetheProcess.run(["inspect", "--database-url", db.conninfo])
        #expect(bare.status == 1 && bare.stdout.contains("PARTITIONS_AHEAD sms.messages:"))
        try PurgeFixture.load(db.connection)
        let overdue = try LetheProcess.run(["inspect", "--table", "sms.contacts", "--database-url", db.conninfo])
        #expect(overdue.status == 1 && overdue.stdout.contains("RETENTION_OVERDUE sms.contacts:"), "\(overdue.stdout)")
        #expect(try LetheProcess.run(["purge", "--database-url", db.conninfo]).status == 0)
        // The fixture's contacts are not sealed (still a finding); nothing is overdue any more.
        let after = try LetheProcess.run(["inspect", "--table", "sms.contacts", "--database-url", db.conninfo])
        #expect(after.stdout.contains("UNSEALED_VALUE sms.contacts.phone:") && !after.stdout.contains("RETENTION_OVERDUE"), "\(after.stdout)")
    }

    /// Issue 30, defect 9: over a monthly layout that ends before today, `partitions ensure` started daily partitions
    /// at today's midnight, leaving a hole where inserts failed. Inspect names the hole; ensure continues from the
    /// last partition's end (one partition for the hole), and an insert into it then succeeds.
    @Test func aLayoutThatEndsBeforeTodayIsContinuedAndItsHoleReported() throws {
        let db = try TestDatabase()
        let daily = ["--policy", LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path, "--database-url", db.conninfo]
        let now = try DatabaseClock.now(db.connection)
        let end = Month(containing: now.addingTimeInterval(-2 * 86_400)).start
        for table in ["messages", "delivery_reports"] {
            var start = Month.adding(months: -3, to: end)
            while start < end {
                let next = Month.adding(months: 1, to: start)
                try db.connection.execute("""
                    CREATE TABLE sms.\(table)_m\(Int(start.timeIntervalSince1970)) PARTITION OF sms.\(table)
                    FOR VALUES FROM ('\(Timestamps.iso(start))') TO ('\(Timestamps.iso(next))')
                    """)
                start = next
            }
        }
        let yesterday = now.addingTimeInterval(-86_400)
        let insert = "INSERT INTO sms.messages (customer_id, created_at, recipient, body) VALUES (1, $1::timestamptz, '\\x01', '\\x02')"
        #expect(throws: PostgresError.self, "no partition for yesterday yet") { try db.connection.execute(insert, [.text(Timestamps.iso(yesterday))]) }
        let before = try LetheProcess.run(["inspect", "--json"] + daily)
        #expect(before.status == 1 && before.stdout.contains("\"partition_hole\""), "\(before.stdout.prefix(3000))")
        let text = try LetheProcess.run(["inspect"] + daily)
        #expect(text.stdout.contains("PARTITION_HOLE sms.messages: no partition covers [\(Timestamps.iso(end))"), "\(text.stdout)")

        let dry = try LetheProcess.run(["partitions", "ensure", "--dry-run"] + daily)
        #expect(dry.status == 0 && dry.stdout.contains(Timestamps.iso(end)), "\(dry.stdout)")
        let ensure = try LetheProcess.run(["partitions", "ensure"] + daily)
        #expect(ensure.status == 0, "\(ensure.stderr)")
        try db.connection.execute(insert, [.text(Timestamps.iso(yesterday))])
        try db.connection.execute(insert, [.text(Timestamps.iso(end))])
        let partitions = try PartitionCatalog().partitions(of: try QualifiedName(parsing: "sms.messages"), db.connection)
        let filler = partitions.filter { $0.from == end }.count
        #expect(filler == 1, "one partition starts where the monthly layout ended")
        let after = try LetheProcess.run(["inspect"] + daily)
        #expect(!after.stdout.contains("PARTITION_HOLE") && !after.stdout.contains("PARTITIONS_AHEAD"), "\(after.stdout)")
    }

    /// Under live traffic rows cross their cutoff every second; minutes after a clean purge they are not overdue
    /// (issue 30, defect 5). Overdue is past the cutoff by more than the daily purge allows (a day and two hours).
    @Test func rowsThatCrossedTheirCutoffSinceTheLastPurgeAreNotOverdue() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        #expect(try LetheProcess.run(["purge", "--database-url", db.conninfo]).status == 0)
        // Customer 1 keeps six months: one row an hour past its cutoff, as if it crossed it since the purge.
        try db.connection.execute("""
            INSERT INTO sms.contacts (customer_id, phone, created_at) VALUES (1, '\\x03'::bytea, now() - interval '6 months' - interval '1 hour')
            """)
        let justCrossed = try LetheProcess.run(["inspect", "--table", "sms.contacts", "--database-url", db.conninfo])
        #expect(!justCrossed.stdout.contains("RETENTION_OVERDUE"), "\(justCrossed.stdout)")
        // One a purge on schedule would have removed: past its cutoff by more than a day and two hours.
        try db.connection.execute("""
            INSERT INTO sms.contacts (customer_id, phone, created_at) VALUES (1, '\\x03'::bytea, now() - interval '6 months' - interval '27 hours')
            """)
        let missed = try LetheProcess.run(["inspect", "--table", "sms.contacts", "--database-url", db.conninfo])
        #expect(missed.status == 1 && missed.stdout.contains("RETENTION_OVERDUE sms.contacts:") && missed.stdout.contains("allows, outside legal holds, 1 row"), "\(missed.stdout)")
    }
}
