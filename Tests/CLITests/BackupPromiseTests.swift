import Backup
import Foundation
import Keys
import Postgres
import TestSupport
import Testing

/// The README's backup and restore promises, through the binary: every alteration of the chunk stream is an
/// integrity error before anything is restored, refusals leave the target as it was, and a restore re-applies
/// what the live database decided since the backup.
@Suite struct BackupPromiseTests {
    static let fullChunk = 4 + 64 * 1024 + 16

    func setUp(contacts: Int = 2000) throws -> (TestDatabase, String, [String]) {
        try BackupFixture.commandLineSetUp(contacts: contacts)
    }

    /// Backup ids, oldest first (by the creation time `backup list` reads from the headers: two backups of the same
    /// second do not sort by id).
    func backupIds(_ directory: String) throws -> [String] {
        let listed = try LetheProcess.run(["backup", "list", "--json", "--repo", directory + "/repo"])
        let entries = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        return entries.compactMap { $0["id"] as? String }
    }

    func schemaCount(_ db: TestDatabase) throws -> Int64 {
        try db.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname IN ('sms', 'lethe')").single("n").int("n")
    }

    /// Where the chunks start: after the fixed header and its JSON essentials.
    func chunkStart(_ bytes: [UInt8]) -> Int {
        82 + (Int(bytes[18]) << 24 | Int(bytes[19]) << 16 | Int(bytes[20]) << 8 | Int(bytes[21]))
    }

    @Test func reorderedDuplicatedAppendedAndCutChunksAreIntegrityErrors() throws {
        let (source, directory, common) = try setUp()
        defer { withExtendedLifetime(source) {} }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try backupIds(directory)[0]
        let path = directory + "/repo/\(id).lethe-backup"
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let start = chunkStart(original), chunk = Self.fullChunk
        #expect(original.count > start + 3 * chunk, "at least four chunks")
        let first = Array(original[start..<start + chunk]), second = Array(original[start + chunk..<start + 2 * chunk])
        let lastStart = start + ((original.count - start - 1) / chunk) * chunk
        let variants: [(String, [UInt8])] = [
            ("chunks 0 and 1 swapped", Array(original[..<start]) + second + first + Array(original[(start + 2 * chunk)...])),
            ("chunk 0 duplicated", Array(original[..<(start + chunk)]) + first + Array(original[(start + chunk)...])),
            ("a chunk appended after the final one", original + second),
            ("cut in the middle of chunk 1", Array(original[..<(start + chunk + chunk / 2)])),
            ("final chunk missing", Array(original[..<lastStart])),
            ("final chunk's tag cut", Array(original.dropLast(7))),
        ]
        let target = try TestDatabase(migrated: false)
        for (what, bytes) in variants {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let verify = try LetheProcess.run(["backup", "verify", id] + offline(common))
            #expect(verify.status == 79, "verify, \(what): \(verify.stdout)\(verify.stderr)")
            let restore = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + common)
            #expect(restore.status == 79, "restore, \(what): \(restore.stderr)")
            #expect(restore.stderr.hasSuffix("\n") && restore.stderr.split(separator: "\n").last?.hasPrefix("HINT: ") == true, "restore, \(what): \(restore.stderr)")
            #expect(try schemaCount(target) == 0, "\(what): the target was touched")
        }
        try Data(original).write(to: URL(fileURLWithPath: path))
        #expect(try LetheProcess.run(["backup", "verify", id] + offline(common)).status == 0)
    }

    func offline(_ options: [String]) -> [String] { options.removing(option: "--database-url") }

    @Test func refusalsAndDryRunsLeaveTheTargetAsItWas() throws {
        let (source, directory, common) = try setUp(contacts: 300)
        defer { withExtendedLifetime(source) {} }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try backupIds(directory)[0]
        let empty = try TestDatabase(migrated: false)
        let dry = try LetheProcess.run(["restore", id, "--target-database", empty.conninfo, "--dry-run"] + common)
        #expect(dry.status == 0 && dry.stdout.contains("would restore"), "\(dry.stderr)")
        #expect(try schemaCount(empty) == 0)

        let full = try TestDatabase(migrated: false)
        #expect(try LetheProcess.run(["restore", id, "--target-database", full.conninfo] + common).status == 0)
        try full.connection.execute("INSERT INTO sms.templates (customer_id, name, body) VALUES (1, 'local', 'only in the target')")
        let before = try BackupFixture.fingerprint(full.connection)
        let refused = try LetheProcess.run(["restore", id, "--target-database", full.conninfo] + common)
        #expect(refused.status == 73 && refused.stderr.contains("HINT:"), "\(refused.stderr)")
        #expect(try BackupFixture.fingerprint(full.connection) == before)
        let cleanDry = try LetheProcess.run(["restore", id, "--target-database", full.conninfo, "--clean", "--dry-run"] + common)
        #expect(cleanDry.status == 0)
        #expect(try BackupFixture.fingerprint(full.connection) == before)
    }

    /// pg_restore fails half-way through a --clean restore (an event trigger refuses one table): the target's
    /// own tables are put back, unchanged.
    @Test func aFailedCleanRestoreLeavesTheTargetRecoverable() throws {
        let (source, directory, common) = try setUp(contacts: 300)
        defer { withExtendedLifetime(source) {} }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try backupIds(directory)[0]
        let target = try TestDatabase(migrated: false)
        #expect(try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + common).status == 0)
        try target.connection.execute("INSERT INTO sms.templates (customer_id, name, body) VALUES (1, 'local', 'only in the target')")
        let before = try BackupFixture.fingerprint(target.connection)
        try target.connection.execute("""
            CREATE FUNCTION public.refuse_templates() RETURNS event_trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity = 'sms.templates') THEN
                RAISE EXCEPTION 'refused by the test';
              END IF;
            END $$
            """)
        try target.connection.execute("CREATE EVENT TRIGGER refuse_templates ON ddl_command_end EXECUTE FUNCTION public.refuse_templates()")
        let failed = try LetheProcess.run(["restore", id, "--target-database", target.conninfo, "--clean"] + common)
        #expect(failed.status != 0 && failed.stderr.contains("HINT:"), "\(failed.stderr)")
        #expect(try BackupFixture.fingerprint(target.connection) == before, "the target's tables are back as they were")
        let leftovers = try target.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname LIKE '%replaced%'").single("n").int("n")
        #expect(leftovers == 0)
        try target.connection.execute("DROP EVENT TRIGGER refuse_templates")
        #expect(try LetheProcess.run(["restore", id, "--target-database", target.conninfo, "--clean"] + common).status == 0)
        #expect(try BackupFixture.fingerprint(target.connection) == BackupFixture.fingerprint(source.connection))
    }

    @Test func theOlderOfTwoBackupsAndOneTableRestore() throws {
        let (source, directory, common) = try setUp(contacts: 300)
        defer { withExtendedLifetime(source) {} }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let atFirst = try BackupFixture.fingerprint(source.connection)
        try source.connection.execute("INSERT INTO sms.templates (customer_id, name, body) VALUES (2, 'later', 'added after the first backup')")
        try source.connection.execute("DELETE FROM sms.contacts WHERE id % 7 = 0")
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let ids = try backupIds(directory)
        #expect(ids.count == 2)
        let older = try TestDatabase(migrated: false)
        let restored = try LetheProcess.run(["restore", ids[0], "--target-database", older.conninfo] + common)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try BackupFixture.fingerprint(older.connection) == atFirst)

        // --table: only that table's rows, into a target that has the schema.
        let partial = try TestDatabase()
        try partial.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        let one = try LetheProcess.run(["restore", ids[1], "--target-database", partial.conninfo, "--table", "sms.templates"] + common)
        #expect(one.status == 0, "\(one.stderr)")
        let now = try BackupFixture.fingerprint(source.connection), got = try BackupFixture.fingerprint(partial.connection)
        #expect(got["sms.templates"] == now["sms.templates"])
        #expect(got["sms.contacts"]?.hasPrefix("0:") == true, "other tables are not restored")
    }

    /// Holds placed and customers shredded after the backup are in force in the restored database.
    @Test func aRestoreReplaysHoldsAndShredsDoneSinceTheBackup() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais')")
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", directory + "/keyring", "--repo", directory + "/repo"]
        for customer in ["1", "2"] {
            let file = try IntakeFixture.write("phone,name\n+33612345678,Alice\n", name: "c\(customer).csv", in: directory)
            #expect(try LetheProcess.run(["import", "contacts", file, "--customer", customer] + common.dropLast(2)).status == 0)
        }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try backupIds(directory)[0]
        #expect(try LetheProcess.run(["hold", "add", "--customer", "1", "--reason", "litigation 7", "--database-url", db.conninfo]).status == 0)
        #expect(try LetheProcess.run(["customer", "shred", "--customer", "2", "--yes", "--database-url", db.conninfo]).status == 0)
        let target = try TestDatabase(migrated: false)
        let restored = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + common)
        #expect(restored.status == 0, "\(restored.stderr)")
        let holds = try target.connection.query("SELECT count(*) AS n FROM lethe.legal_holds WHERE customer_id = 1 AND released_at IS NULL").single("n").int("n")
        #expect(holds == 1)
        let live = try target.connection.query("SELECT count(*) AS n FROM lethe.customer_keys WHERE customer_id = 2 AND wrapped IS NOT NULL").single("n").int("n")
        #expect(live == 0, "the shredded customer's key stays shredded")
        let indexes = try target.connection.query("SELECT count(*) AS n FROM sms.contacts WHERE customer_id = 2 AND phone_bidx IS NOT NULL").single("n").int("n")
        #expect(indexes == 0)
        let verify = try LetheProcess.run(["encrypt", "verify", "--customer", "1", "--database-url", target.conninfo, "--keyring", directory + "/keyring"])
        #expect(verify.status == 0, "customer 1 still opens: \(verify.stdout)\(verify.stderr)")
    }

    /// `backup expire` through the command line, on backups made at earlier dates by the backup job itself
    /// (lethe has no clock override; libfaketime cannot drive Foundation's child processes).
    @Test func backupExpireKeepsTheNewestValidAndRemovesPastTheCeiling() throws {
        let (source, directory, common) = try setUp(contacts: 100)
        defer { withExtendedLifetime(source) {} }
        let keyring = try Keyring.load(path: directory + "/keyring")
        let job = BackupJob(db: source.connection, conninfo: source.conninfo, policy: try PolicyFixture.defaultPolicy(), sealing: .keyring(keyring),
                            repository: try BackupRepository(directory: directory + "/repo"))
        for days in [200, 100, 60] { _ = try job.dated(Date().addingTimeInterval(-Double(days) * 86_400)).run() }
        let ids = try backupIds(directory)
        #expect(ids.count == 3)
        // The newest (60 days old, past keep P35D) is damaged: the 100-day-old one is the newest valid.
        let newest = directory + "/repo/\(ids[2]).lethe-backup"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        bytes[bytes.count - 40] ^= 0x04
        try bytes.write(to: URL(fileURLWithPath: newest))

        let dry = try LetheProcess.run(["backup", "expire", "--dry-run", "--json"] + common)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(try backupIds(directory) == ids, "--dry-run removes nothing")
        let run = try LetheProcess.run(["backup", "expire", "--json"] + common)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try backupIds(directory) == [ids[1]], "\(run.stdout)")
    }

    /// Until the replay has committed, the restored database is closed to PUBLIC (issue 34: a restore that never
    /// shut PUBLIC out passed `make test`). Held at the replay's purge, which waits for the target's purge lock.
    @Test func theRestoredDatabaseIsClosedToTheApplicationUntilTheReplayCommits() throws {
        let (source, directory, common) = try setUp(contacts: 200)
        defer { withExtendedLifetime(source) {} }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try backupIds(directory)[0]
        let application = try ApplicationLogin(source.connection)
        let target = try TestDatabase(migrated: false)
        func appCanConnect() -> Bool { application.canConnect(to: target.name) }
        #expect(appCanConnect())
        let blocker = try target.newConnection()
        try blocker.advisoryLock(.purge)
        let restore = try RunningLethe(["restore", id, "--target-database", target.conninfo] + common)
        #expect(try KnownPoint.waitForLockWait(blocker, database: target.name, queryContains: "pg_advisory_lock"), "the replay's purge waits")
        #expect(!appCanConnect(), "data not yet replayed is out of the application's reach")
        #expect(try blocker.query("SELECT count(*) AS n FROM sms.contacts").single("n").int("n") > 0, "while the data is there")
        try blocker.advisoryUnlock(.purge)
        let outcome = restore.wait()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(appCanConnect(), "CONNECT given back with the restore's audit record")
    }
}
