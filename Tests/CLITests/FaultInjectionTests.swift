import Foundation
import Postgres
import TestSupport
import Testing

/// Jobs killed (SIGKILL) or cut off by a server crash (pg_ctl -m immediate) at known points, then rerun: the
/// invariants hold. Each job is stopped by a lock that a second connection holds, never by a guessed delay.
/// Run by `make test-faults` (alone, since a server restart drops every connection), which `.ci/run` runs
/// after `make test`.
@Suite(.serialized) struct FaultInjection {
    static func messagesFile(rows: Int, in directory: String) throws -> String {
        var text = "phone,message\n"
        for index in 0..<rows { text += "+336123\(String(format: "%05d", index)),Bonjour \(index)\n" }
        return try IntakeFixture.write(text, name: "messages-\(rows).csv", in: directory)
    }

    static func count(_ db: PostgresConnection, _ sql: String) throws -> Int64 {
        try db.query(sql).single("count").int("n")
    }

    func keyed() throws -> (TestDatabase, String, [String]) {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais'), (3, 'Atelier')")
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        return (db, directory, ["--database-url", db.conninfo, "--keyring", directory + "/keyring"])
    }

    /// The fixture's people as messages of each customer.
    func importPeople(for customers: [String], directory: String, common: [String]) throws {
        for customer in customers {
            let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m\(customer).csv", in: directory)
            #expect(try LetheProcess.run(["import", "messages", file, "--customer", customer] + common).status == 0)
        }
    }

    /// Nothing of the run is left half-done or marked running; the audit chain verifies.
    func expectSettled(_ db: TestDatabase, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let watcher = try db.newConnection()
        #expect(try Self.count(watcher, "SELECT count(*) AS n FROM lethe.purge_runs WHERE status = 'running'") == 0, sourceLocation: sourceLocation)
        #expect(try Self.count(watcher, "SELECT count(*) AS n FROM lethe.job_runs WHERE finished_at IS NULL") == 0, sourceLocation: sourceLocation)
        let audit = try LetheProcess.run(["audit", "verify", "--database-url", db.conninfo])
        #expect(audit.status == 0, "\(audit.stderr)", sourceLocation: sourceLocation)
    }

    @Test func importKilledDuringCopyOrBeforeItsRecordWritesNothing() throws {
        let (db, directory, common) = try keyed()
        let file = try Self.messagesFile(rows: 3000, in: directory)
        // Stopped on its first use of sms.messages, then after its COPY, on the insert of its record.
        for (lock, waitingOn) in [("LOCK TABLE sms.messages IN ACCESS EXCLUSIVE MODE", nil),
                                  ("LOCK TABLE lethe.imports IN ACCESS EXCLUSIVE MODE", "lethe.imports")] as [(String, String?)] {
            let blocker = try db.newConnection()
            try blocker.execute("BEGIN")
            try blocker.execute(lock)
            let job = try RunningLethe(["import", "messages", file, "--customer", "1", "--jobs", "4"] + common)
            #expect(try KnownPoint.waitForLockWait(blocker, database: db.name, queryContains: waitingOn), "\(lock)")
            job.kill()
            job.wait()
            try blocker.execute("ROLLBACK")
            #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM sms.messages") == 0, "killed behind '\(lock)': no partial import")
            #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM lethe.imports") == 0)
        }
        let rerun = try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM sms.messages") == 3000)
        try expectSettled(db)
    }

    /// Key rotation killed at each of its writes to the database: after the keyring file holds the new KEK but
    /// before its fingerprint is recorded, and in the middle of the re-wrap. Every data key opens with the keyring
    /// on disk throughout, and rerunning finishes the rotation.
    @Test func keyRotationKilledAtEitherStepLeavesEveryDataKeyOpenable() throws {
        let (db, directory, common) = try keyed()
        for customer in ["1", "2", "3"] {
            let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m\(customer).csv", in: directory)
            #expect(try LetheProcess.run(["import", "messages", file, "--customer", customer] + common).status == 0)
        }
        // SHARE locks: reads go on, the first write (recording the fingerprint; re-wrapping a key) waits.
        for (arguments, lock) in [(["keys", "rotate"], "LOCK TABLE lethe.kek_fingerprints IN SHARE MODE"),
                                  (["keys", "rotate", "--rewrap"], "LOCK TABLE lethe.customer_keys IN SHARE MODE")] {
            let blocker = try db.newConnection()
            try blocker.execute("BEGIN")
            try blocker.execute(lock)
            let job = try RunningLethe(arguments + common)
            #expect(try KnownPoint.waitForLockWait(blocker, database: db.name), "\(arguments)")
            job.kill()
            job.wait()
            try blocker.execute("ROLLBACK")
            let keyring = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/keyring"))) as? [String: Any]
            #expect((keyring?["keks"] as? [Any])?.count == 2, "the new KEK was on disk when the job was killed")
            let verify = try LetheProcess.run(["encrypt", "verify"] + common)
            #expect(verify.status == 0, "after a kill of \(arguments): \(verify.stdout)\(verify.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }.isEmpty, "no key copy left")
        }
        let finish = try LetheProcess.run(["keys", "rotate", "--rewrap"] + common)
        #expect(finish.status == 0, "\(finish.stderr)")
        let status = try LetheProcess.run(["keys", "status", "--json"] + common)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(try LetheProcess.run(["encrypt", "verify"] + common).status == 0)
        try expectSettled(db)
    }

    @Test func encryptMigrateKilledBetweenBatchesResumes() throws {
        let (db, _, common) = try keyed()
        try db.connection.execute("""
            INSERT INTO sms.contacts (id, customer_id, phone) SELECT g, 1 + g % 3, convert_to('+336123' || lpad(g::text, 5, '0'), 'UTF8')
            FROM generate_series(1, 3000) g
            """)
        let blocker = try db.newConnection()
        try blocker.execute("BEGIN")
        try blocker.execute("SELECT id FROM sms.contacts WHERE id = 1700 FOR UPDATE")
        let job = try RunningLethe(["encrypt", "migrate", "--table", "sms.contacts", "--column", "phone", "--from", "plaintext", "--batch-rows", "200"] + common)
        #expect(try KnownPoint.waitForLockWait(blocker, database: db.name, queryContains: "UPDATE"))
        job.kill()
        job.wait()
        try blocker.execute("ROLLBACK")
        let sealed = try Self.count(db.connection, "SELECT count(*) AS n FROM sms.contacts WHERE substring(phone FROM 1 FOR 3) = 'LTH'::bytea")
        #expect(sealed > 0 && sealed < 3000, "killed half-way: \(sealed) sealed")
        let rerun = try LetheProcess.run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "phone", "--from", "plaintext"] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let verify = try LetheProcess.run(["encrypt", "verify", "--table", "sms.contacts"] + common)
        #expect(verify.status == 0, "every value opens and none is left in plaintext: \(verify.stdout)")
        #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM sms.contacts") == 3000)
        try expectSettled(db)
    }

    @Test func subjectEraseKilledWhileDeletingErasesNothingThenEverything() throws {
        let (db, directory, common) = try keyed()
        let person = IntakeFixture.people[0]
        try importPeople(for: ["1", "2"], directory: directory, common: common)
        let before = try Self.count(db.connection, "SELECT count(*) AS n FROM sms.messages")
        let blocker = try db.newConnection()
        try blocker.execute("BEGIN")
        try blocker.execute("SELECT id FROM sms.messages WHERE customer_id = 2 FOR UPDATE")
        let job = try RunningLethe(["subject", "erase", "--phone", person.e164] + common)
        #expect(try KnownPoint.waitForLockWait(blocker, database: db.name, queryContains: "DELETE"))
        job.kill()
        job.wait()
        try blocker.execute("ROLLBACK")
        #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM sms.messages") == before, "one transaction: nothing erased")
        #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM lethe.tombstones") == 0)
        let rerun = try LetheProcess.run(["subject", "erase", "--phone", person.e164, "--json"] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM sms.messages") == before - 2)
        let export = try LetheProcess.run(["subject", "export", "--phone", person.e164, "--out", directory + "/after"] + common)
        #expect(export.stdout.contains("exported 0 row(s)"), "\(export.stdout)")
        try expectSettled(db)
    }

    /// Issue 32: killed after its ledger record is on disk but before its transaction commits (it waits on the
    /// ledger position a blocker holds), an erasure leaves the ledger ahead of the database, never behind: nothing is
    /// erased, every writer refuses until `lethe reconcile`, which erases the person exactly once, with one audit record.
    @Test func subjectEraseKilledBetweenItsLedgerRecordAndItsCommitIsErasedOnceByReconcile() throws {
        let (db, directory, common) = try keyed()
        let ledger = ["LETHE_LEDGER": directory + "/ledger", "LETHE_LEDGER_KEY": directory + "/ledger.key"]
        #expect(try LetheProcess.run(["ledger", "init", "--keyring", directory + "/keyring"], environment: ledger).status == 0)
        let person = IntakeFixture.people[0]
        try importPeople(for: ["1", "2"], directory: directory, common: common)
        let before = try Self.count(db.connection, "SELECT count(*) AS n FROM sms.messages")
        let blocker = try db.newConnection()
        try blocker.execute("BEGIN")
        try blocker.execute("SELECT * FROM lethe.ledger_state FOR SHARE")
        let job = try RunningLethe(["subject", "erase", "--phone", person.e164] + common, environment: ledger)
        #expect(try KnownPoint.waitForLockWait(blocker, database: db.name, queryContains: "ledger_advance"))
        job.kill()
        job.wait()
        try blocker.execute("ROLLBACK")
        let records = try FileManager.default.subpathsOfDirectory(atPath: directory + "/ledger").filter { $0.hasSuffix(".json") }
        #expect(records.count == 1, "the record was on disk before the commit")
        #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM sms.messages") == before, "nothing erased: the transaction did not commit")
        #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM lethe.tombstones") == 0)
        let refused = try LetheProcess.run(["retention", "set", "--customer", "1", "--period", "P1M", "--reason", "x", "--database-url", db.conninfo], environment: ledger)
        #expect(refused.status == 78 && refused.stderr.contains("lethe reconcile"), "a writer refuses while the database is behind: \(refused.stderr)")
        let reconcile = try LetheProcess.run(["reconcile", "--json"] + common, environment: ledger)
        #expect(reconcile.status == 1 && reconcile.stdout.contains("\"rowsErasedAgain\" : 2"), "\(reconcile.stdout) \(reconcile.stderr)")
        #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM sms.messages") == before - 2, "erased exactly once")
        #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM lethe.tombstones") == 1)
        #expect(try Self.count(db.connection, "SELECT count(*) AS n FROM lethe.audit_log WHERE action IN ('subject.erase', 'subject.erase.replay', 'reconcile')") == 1,
                "one audit record for the erasure")
        #expect(try LetheProcess.run(["reconcile"] + common, environment: ledger).status == 0, "a second reconcile has nothing to do")
        let export = try LetheProcess.run(["subject", "export", "--phone", person.e164, "--out", directory + "/after"] + common)
        #expect(export.stdout.contains("exported 0 row(s)"), "\(export.stdout)")
        try expectSettled(db)
    }

    @Test func backupKilledOrCutOffByACrashLeavesNoBackupThatDoesNotVerify() throws {
        let (source, directory, common) = try BackupFixture.commandLineSetUp(contacts: 500)
        let offline = ["--keyring", directory + "/keyring", "--repo", directory + "/repo"]
        try source.connection.execute("CHECKPOINT")  // the fixture outlives the crash (synchronous_commit is off here)
        // Killed while it waits on the audit log (pg_dump's table locks, or its own reads), then cut off by a
        // crash while counting the rows it records in the header.
        for (crash, lock, waitingOn) in [(false, "LOCK TABLE lethe.audit_log IN ACCESS EXCLUSIVE MODE", nil),
                                         (true, "LOCK TABLE sms.templates IN ACCESS EXCLUSIVE MODE", nil)] as [(Bool, String, String?)] {
            let blocker = try source.newConnection()
            try blocker.execute("BEGIN")
            try blocker.execute(lock)
            let job = try RunningLethe(["backup"] + common)
            #expect(try KnownPoint.waitForLockWait(blocker, database: source.name, queryContains: waitingOn), "\(lock)")
            if crash {
                try TestServer.restartImmediately()
                #expect(job.wait().status != 0)
            } else {
                job.kill()
                job.wait()
                try blocker.execute("ROLLBACK")
            }
            let listed = try LetheProcess.run(["backup", "list", "--json"] + offline.suffix(2))
            #expect(!listed.stdout.contains("\"id\""), "nothing is listed: \(listed.stdout)")
            let verify = try LetheProcess.run(["backup", "verify", "--all"] + offline)
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        }
        let rerun = try LetheProcess.run(["backup"] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let verify = try LetheProcess.run(["backup", "verify", "--all"] + offline)
        #expect(verify.status == 0 && verify.stdout.contains("intact"), "\(verify.stdout)")
    }

    /// The load is held inside its single transaction (an event trigger in the target waits on an advisory lock
    /// the test holds when the load makes a partition from the archive's bounds); lethe is killed there. Its
    /// transaction rolls back: the target is empty, and the rerun restores all of it.
    @Test func restoreKilledDuringTheDataLoadLeavesTheTargetEmpty() throws {
        let (source, directory, common) = try BackupFixture.commandLineSetUp(contacts: 500)
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try #require(try FileManager.default.contentsOfDirectory(atPath: directory + "/repo").first { $0.hasSuffix(".lethe-backup") })
            .replacingOccurrences(of: ".lethe-backup", with: "")
        let target = try TestDatabase(migrated: false)
        try target.connection.execute("""
            CREATE FUNCTION public.gate() RETURNS event_trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity LIKE 'sms.delivery_reports_p%') THEN
                PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242);
              END IF;
            END $$
            """)
        try target.connection.execute("CREATE EVENT TRIGGER gate ON ddl_command_end EXECUTE FUNCTION public.gate()")
        let blocker = try target.newConnection()
        try blocker.execute("SELECT pg_advisory_lock(4242)")
        let job = try RunningLethe(["restore", id, "--target-database", target.conninfo] + common)
        #expect(try KnownPoint.waitForLockWait(blocker, database: target.name), "the load is held inside its transaction")
        job.kill()
        job.wait()
        // Let the backend go on: at its next read it finds the client gone and rolls back.
        try blocker.execute("SELECT pg_advisory_unlock(4242)")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            try blocker.execute("SELECT pg_stat_clear_snapshot()")
            if try Self.count(blocker, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'") == 0 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(try Self.count(blocker, "SELECT count(*) AS n FROM pg_namespace WHERE nspname IN ('sms', 'lethe')") == 0, "the target is empty")
        let rerun = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try BackupFixture.fingerprint(try target.newConnection()) == BackupFixture.fingerprint(source.connection))
    }

    /// Killed after the data committed, while the replay's purge waits for the target's purge lock (held by the
    /// test): the restored data stays out of the application's reach (CONNECT revoked, marker left), and the
    /// rerun replays, finishes, and gives CONNECT back.
    @Test func restoreKilledDuringTheReplayIsUnreachableThenFinishedByTheRerun() throws {
        let (source, directory, common) = try BackupFixture.commandLineSetUp(contacts: 500)
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try #require(try FileManager.default.contentsOfDirectory(atPath: directory + "/repo").first { $0.hasSuffix(".lethe-backup") })
            .replacingOccurrences(of: ".lethe-backup", with: "")
        let application = try ApplicationLogin(source.connection)
        let target = try TestDatabase(migrated: false)
        func appCanConnect() -> Bool { application.canConnect(to: target.name) }
        #expect(appCanConnect())
        let blocker = try target.newConnection()
        try blocker.advisoryLock(.purge)
        let job = try RunningLethe(["restore", id, "--target-database", target.conninfo] + common)
        #expect(try KnownPoint.waitForLockWait(blocker, database: target.name, queryContains: "pg_advisory_lock"), "the replay's purge waits")
        job.kill()
        job.wait()
        try blocker.execute("SELECT pg_advisory_unlock_all()")
        let watcher = try target.newConnection()
        #expect(try Self.count(watcher, "SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'sms'") == 1, "the data had committed")
        #expect(try Self.count(watcher, "SELECT count(*) AS n FROM lethe_restore.pending") == 1)
        #expect(!appCanConnect(), "un-replayed data is out of the application's reach")
        let other = try LetheProcess.run(["restore", "20990101T000000Z-0000", "--target-database", target.conninfo] + common)
        #expect(other.status != 0)
        let rerun = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(appCanConnect())
        #expect(try Self.count(watcher, "SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'lethe_restore'") == 0)
        #expect(try BackupFixture.fingerprint(watcher) == BackupFixture.fingerprint(source.connection))
        #expect(try Self.count(watcher, "SELECT count(*) AS n FROM lethe.audit_log WHERE action = 'restore' AND details->>'resumed' = 'true'") == 1)
    }

    /// The server crashes (immediate shutdown) while a purge batch waits on a locked row.
    @Test func purgeCutOffByAServerCrashIsFinishedByTheNextRun() throws {
        let contacts = 30_000, messages = 3_000
        let db = try TestDatabase()
        try PurgeFixture.loadLarge(db.connection, contacts: contacts, messages: messages)
        // The test server runs with synchronous_commit off: without this, a crash soon after the load (lethe reaches
        // its lock wait within ~100 ms) loses the fixture's last commits, and the test would be about the server.
        try db.connection.execute("CHECKPOINT")
        let blocker = try db.newConnection()
        try blocker.execute("BEGIN")
        try blocker.execute("SELECT id FROM sms.contacts WHERE customer_id = 1 AND created_at < now() - interval '250 days' AND id > 15000 ORDER BY id LIMIT 1 FOR UPDATE")
        let job = try RunningLethe(["purge", "--table", "sms.contacts", "--batch-rows", "1000", "--lock-timeout", "60000", "--database-url", db.conninfo])
        #expect(try KnownPoint.waitForLockWait(blocker, database: db.name, queryContains: "DELETE"))
        try TestServer.restartImmediately()
        #expect(job.wait().status != 0)
        let after = try db.newConnection()
        let rerun = try LetheProcess.run(["purge", "--database-url", db.conninfo])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let survivors = try PurgeFixture.survivingIds(after)
        let expected = try PurgeFixture.expectedLargeSurvivors(after, contacts: contacts, messages: messages)
        #expect(survivors == expected, "\(PurgeFixture.difference(survivors, expected))\n\(rerun.stdout)")
        try expectSettled(db)
    }
}
