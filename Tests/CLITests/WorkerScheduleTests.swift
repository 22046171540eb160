import Foundation
import Postgres
import TestSupport
import Testing

/// The worker's schedule promises (issue 34), each at a known point, none waiting on a wall clock: after downtime a
/// missed job runs once; a slot a one-shot command already ran is not run again; `--once` exits 1 when a job fails;
/// SIGTERM during a backup removes its partial file.
@Suite struct WorkerScheduleTests {
    func runs(_ db: TestDatabase, _ job: String) throws -> [String] {
        try db.connection.query("SELECT started_by || '/' || outcome AS run FROM lethe.job_runs WHERE job = $1 ORDER BY id", [.text(job)])
            .rows.map { try $0.string("run") }
    }

    /// Only `job` scheduled, daily.
    func onlyDaily(_ job: String) throws -> String {
        var schedule = Dictionary(uniqueKeysWithValues: ["partitions", "purge", "backup", "backup_expire", "requests_check", "inspect"].map { ($0, "off") })
        schedule[job] = "5 0 * * *"
        return try WorkerPolicy.write(schedule)
    }

    @Test func afterDowntimeAMissedJobRunsOnceNotOncePerMissedSlot() throws {
        let db = try TestDatabase()
        let policy = try onlyDaily("requests_check")
        defer { try? FileManager.default.removeItem(atPath: policy) }
        // The worker was down for ten days: its last run was for the slot ten days ago.
        try db.connection.execute("""
            INSERT INTO lethe.job_runs (job, scheduled_for, started_by, host, os_pid, started_at, finished_at, outcome, detail)
            VALUES ('requests_check', date_trunc('day', now()) - interval '10 days' + interval '5 minutes', 'worker', 'old-host', 1,
                    now() - interval '10 days', now() - interval '10 days', 'success', 'no request is overdue')
            """)
        let first = try LetheProcess.run(["worker", "--once", "--policy", policy, "--database-url", db.conninfo])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try runs(db, "requests_check") == ["worker/success", "worker/success"], "one catch-up run for ten missed slots")
        let second = try LetheProcess.run(["worker", "--once", "--policy", policy, "--database-url", db.conninfo])
        #expect(try second.status == 0 && runs(db, "requests_check").count == 2, "nothing is due after the catch-up")
    }

    @Test func aSlotAOneShotCommandAlreadyRanIsNotRunAgain() throws {
        let db = try TestDatabase()
        let policy = try onlyDaily("requests_check")
        defer { try? FileManager.default.removeItem(atPath: policy) }
        #expect(try LetheProcess.run(["requests", "check", "--database-url", db.conninfo]).status == 0)
        let worker = try LetheProcess.run(["worker", "--once", "--policy", policy, "--database-url", db.conninfo])
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(try runs(db, "requests_check") == ["command/success"], "cron's run was this slot's")
    }

    @Test func onceExitsOneWhenAJobFails() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        // The fixture's clear-text values are findings: the inspection fails.
        let policy = try onlyDaily("inspect")
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let outcome = try LetheProcess.run(["worker", "--once", "--policy", policy, "--database-url", db.conninfo])
        #expect(outcome.status == 1 && outcome.stderr.contains("job(s) failed: inspect") && outcome.stderr.contains("HINT:"),
                "\(outcome.status): \(outcome.stderr)")
        #expect(try runs(db, "inspect") == ["worker/failure"])
        // Unreachable, --once fails too (cron must hear of it), after one attempt.
        let unreachable = try LetheProcess.run(["worker", "--once", "--policy", policy, "--database-url", "host=127.0.0.1 port=1 connect_timeout=2"])
        #expect(unreachable.status == 1 && unreachable.stderr.contains("connect"), "\(unreachable.status): \(unreachable.stderr)")
    }

    /// The worker's backup is stopped by SIGTERM while pg_dump waits on an application's lock: the run is recorded
    /// as interrupted, its partial file is gone, the worker exits 0, and the next backup works.
    @Test func sigtermDuringABackupRemovesItsPartialFile() throws {
        let (db, directory, options) = try BackupFixture.commandLineSetUp(contacts: 200)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let policy = try onlyDaily("backup")
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let blocker = try db.newConnection()
        try blocker.execute("BEGIN")
        try blocker.execute("LOCK TABLE sms.messages IN ACCESS EXCLUSIVE MODE")
        let worker = try BackgroundLethe(["worker", "--policy", policy] + options)
        #expect(try KnownPoint.waitForLockWait(blocker, database: db.name), "pg_dump waits for the table")
        let partials = try FileManager.default.contentsOfDirectory(atPath: directory + "/repo").filter { $0.hasSuffix(".partial") }
        #expect(partials.count == 1, "\(partials)")
        kill(worker.process.processIdentifier, SIGTERM)
        try blocker.execute("ROLLBACK")
        let (status, _) = worker.terminate()
        #expect(status == 0, "\(worker.stderrLines.suffix(5))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/repo").isEmpty, "no partial, no backup left")
        #expect(try runs(db, "backup") == ["worker/interrupted"])
        #expect(try LetheProcess.run(["backup"] + options).status == 0)
    }
}
