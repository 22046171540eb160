import Foundation
import Postgres
import TestSupport
import Testing

/// A `lethe worker` started in the background, its stderr collected in a file.
final class BackgroundLethe {
    let process: Process
    let stderrPath: String
    private let started = Date()

    init(_ arguments: [String]) throws {
        stderrPath = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-worker-\(UUID().uuidString).log").path
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = LetheProcess.configured(arguments)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    /// Sends SIGTERM and returns the exit status and the seconds it took to exit.
    func terminate() -> (status: Int32, seconds: Double) {
        let sent = Date()
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return (process.terminationStatus, Date().timeIntervalSince(sent))
    }

    var stderrLines: [String] {
        ((try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
}

enum WorkerPolicy {
    /// The default policy (monthly partitions, as the fixtures' databases have) with other schedules.
    static func write(_ schedule: [String: String]) throws -> String {
        var text = try PolicyFixture.text(interval: "P1M")
        for (job, expression) in schedule {
            let line = text.components(separatedBy: "\n").first { $0.hasPrefix("  \(job): ") }!
            text = text.replacingOccurrences(of: line, with: "  \(job): \"\(expression)\"")
        }
        let path = try IntakeFixture.directory(prefix: "lethe-policy") + "/policy.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

@Suite struct WorkerCommandTests {
    /// Issue 30, what to build 7: the `encrypt` job seals what a writer other than Lethe left in clear in a
    /// personal column (the application's own INSERT), and exits as `encrypt migrate` would.
    @Test func theEncryptJobSealsWhatAForeignWriterLeftInClear() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Passerelle')")
        try db.connection.execute("INSERT INTO sms.contacts (id, customer_id, phone, created_at) VALUES (1, 1, convert_to('+33612345678', 'UTF8'), now())")
        let common = ["--keyring", keyring, "--database-url", db.conninfo]
        let before = try LetheProcess.run(["encrypt", "verify"] + common)
        #expect(before.status == 1 && before.stdout.contains("1 not sealed yet"), "\(before.stdout) \(before.stderr)")
        let off = Dictionary(uniqueKeysWithValues: ["partitions", "purge", "backup", "backup_expire", "requests_check", "inspect"].map { ($0, "off") })
        let policy = try WorkerPolicy.write(off.merging(["encrypt": "1 seconds"]) { $1 })
        let worker = try LetheProcess.run(["worker", "--once", "--policy", policy] + common)
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(try runs(db, "encrypt") == ["success"])
        let after = try LetheProcess.run(["encrypt", "verify", "--policy", policy] + common)
        #expect(after.status == 0 && after.stdout.contains("0 not sealed yet"), "\(after.stdout) \(after.stderr)")
        #expect(!worker.stderr.contains("612345678"))
        // Without the keyring the job refuses, saying how to give it (78).
        // (Another database: in this one the job has just run, and is due again only in the next second.)
        let other = try TestDatabase()
        let keyless = try LetheProcess.run(["worker", "--once", "--policy", policy, "--database-url", other.conninfo], environment: ["LETHE_KEYRING": ""])
        #expect(keyless.status != 0 && keyless.stderr.contains("needs the keyring"), "\(keyless.status) \(keyless.stderr)")
    }

    /// A row without a customer (a nullable customer column: a gateway's rows with no account) is sealed under the
    /// platform's own data key (`CustomerKey.withoutCustomer`), opened by verify and export, and never stops the job
    /// (before: "column 'customer' is null", 70; then: left in clear, exit 1).
    @Test func encryptMigrateSealsARowWithoutACustomerUnderThePlatformsKey() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Passerelle')")
        try db.connection.execute("ALTER TABLE sms.contacts ALTER COLUMN customer_id DROP NOT NULL")
        try db.connection.execute("""
            INSERT INTO sms.contacts (id, customer_id, phone, created_at) VALUES
                (1, 1, convert_to('+33612345678', 'UTF8'), now()), (2, NULL, convert_to('+33612345679', 'UTF8'), now())
            """)
        let common = ["--keyring", keyring, "--database-url", db.conninfo]
        let migrate = try LetheProcess.run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "phone", "--from", "plaintext"] + common)
        #expect(migrate.status == 0, "\(migrate.status) \(migrate.stdout) \(migrate.stderr)")
        #expect(migrate.stdout.contains("2 value(s) re-sealed"), "\(migrate.stdout)")
        #expect(!migrate.stdout.contains("612345679") && !migrate.stderr.contains("612345679"))
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.customer_keys WHERE customer_id = 4611686018427387904").single("n").int("n") == 1,
                "the platform's own data key")
        let verify = try LetheProcess.run(["encrypt", "verify"] + common)
        #expect(verify.status == 0 && verify.stdout.contains("2 sealed value(s) checked, 0 failed"), "\(verify.stdout) \(verify.stderr)")
        let inspect = try LetheProcess.run(["inspect", "--table", "sms.contacts", "--database-url", db.conninfo])
        #expect(!inspect.stdout.contains("UNSEALED_VALUE"), "\(inspect.stdout)")
    }

    func runs(_ db: TestDatabase, _ job: String) throws -> [String] {
        try db.connection.query("SELECT outcome FROM lethe.job_runs WHERE job = $1 ORDER BY id", [.text(job)]).rows.map { try $0.string("outcome") }
    }

    @Test func aWorkerRunsItsJobsLogsECSAndWritesMetricsThenStopsOnSIGTERM() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let policy = try WorkerPolicy.write(["partitions": "1 seconds", "purge": "1 seconds", "requests_check": "1 seconds",
                                             "backup": "off", "backup_expire": "off"])
        let metrics = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-\(UUID().uuidString).prom").path
        defer { try? FileManager.default.removeItem(atPath: metrics); try? FileManager.default.removeItem(atPath: policy) }
        let worker = try BackgroundLethe(["worker", "--policy", policy, "--log-format", "json", "--metrics-file", metrics, "--database-url", db.conninfo])
        // Two successful runs of each job, whatever the machine's load: waited for in the database, not guessed.
        let ranTwice = try KnownPoint.until {
            try ["purge", "partitions", "requests_check"].allSatisfy { try runs(db, $0).filter { $0 == "success" }.count >= 2 }
        }
        let recorded = try ["purge", "partitions", "requests_check"].map { try runs(db, $0) }
        #expect(ranTwice, "each job ran twice: \(recorded)")
        let (status, seconds) = worker.terminate()
        #expect(status == 0)
        #expect(seconds < 10)
        for job in ["purge", "partitions", "requests_check"] {
            // The last run may have been stopped by the SIGTERM at a safe point.
            let outcomes = try runs(db, job)
            #expect(outcomes.count >= 2 && outcomes.dropLast().allSatisfy { $0 == "success" }
                    && ["success", "interrupted"].contains(outcomes.last ?? ""), "\(job): \(outcomes)")
        }
        // Every line is an ECS object; job ends carry the event fields.
        let lines = worker.stderrLines
        #expect(!lines.isEmpty)
        var jobEnds = 0
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            for field in ["@timestamp", "log.level", "message", "ecs.version", "service.name"] { #expect(object[field] != nil, "\(field) in \(line)") }
            #expect(object["service.name"] as? String == "lethe")
            if object["message"] as? String == "job finished" {
                jobEnds += 1
                #expect(object["event.outcome"] as? String == "success")
                #expect((object["event.duration"] as? Int64 ?? 0) > 0, "event.duration is a JSON number")
                #expect(["purge", "partitions", "requests_check"].contains(object["event.action"] as? String ?? ""))
            }
        }
        #expect(jobEnds >= 6)
        // The metrics file passes promtool and holds a recent purge success.
        let check = try PeerCommand.run("/usr/bin/promtool", ["check", "metrics"], stdinFile: metrics)
        #expect(check.status == 0, "\(check.output)")
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        let success = try #require(text.split(separator: "\n").first { $0.hasPrefix("lethe_job_last_success_timestamp_seconds{jobname=\"purge\"}") })
        let stamp = try #require(Double(success.split(separator: " ").last!))
        #expect(Date().timeIntervalSince1970 - stamp < 10)
        for name in ["lethe_job_last_run_timestamp_seconds", "lethe_job_duration_seconds", "lethe_job_failures_total",
                     "lethe_purge_rows_deleted_total", "lethe_purge_partitions_dropped_total", "lethe_requests_overdue"] {
            #expect(text.contains(name), "\(name)")
        }
        // The inspection (daily, never run here, so due at start) found the fixture's unsealed values: a metric by
        // kind and an ECS line per finding.
        #expect(text.contains("lethe_inspect_findings{kind=\"unsealed_value\"}"))
        #expect(lines.contains { $0.contains("\"event.action\":\"inspect\"") && $0.contains("UNSEALED_VALUE") })
    }

    @Test func twoWorkersRunEachSlotOnceAndNeverTwoPurgesAtOnce() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let policy = try WorkerPolicy.write(["partitions": "off", "purge": "1 seconds", "requests_check": "off", "backup": "off", "backup_expire": "off"])
        defer { try? FileManager.default.removeItem(atPath: policy) }
        // The catch-up run first: the workers then make the daily run, well under a second.
        #expect(try LetheProcess.run(["purge", "--policy", policy, "--database-url", db.conninfo]).status == 0)
        let workers = try (0..<2).map { _ in try BackgroundLethe(["worker", "--policy", policy, "--log-format", "json", "--database-url", db.conninfo]) }
        // Four slots run between the two workers, and each has logged a decision about a slot the other took.
        let settled = try KnownPoint.until {
            try db.connection.query("SELECT count(*) AS n FROM lethe.purge_runs WHERE id > 1 AND finished_at IS NOT NULL").single("n").int("n") >= 4
                && workers.contains { $0.stderrLines.contains { $0.contains("skipped") } }
        }
        #expect(settled, "four purge slots ran and a worker skipped one the other took")
        for worker in workers { #expect(worker.terminate().status == 0) }
        let ledger = try db.connection.query("SELECT started_at, finished_at FROM lethe.purge_runs WHERE id > 1 ORDER BY started_at").rows
            .map { (try $0.date("started_at"), try $0.date("finished_at")) }
        #expect(ledger.count >= 4)
        for (earlier, later) in zip(ledger, ledger.dropFirst()) { #expect(earlier.1 <= later.0, "purge runs overlap") }
        let slots = try db.connection.query("SELECT scheduled_for FROM lethe.job_runs WHERE job = 'purge' AND scheduled_for IS NOT NULL ORDER BY scheduled_for").rows
            .map { try $0.date("scheduled_for").timeIntervalSince1970 }
        #expect(Set(slots).count == slots.count, "no slot ran twice")
        for (a, b) in zip(slots, slots.dropFirst()) { #expect(b - a == 1, "every slot ran: \(slots)") }
        let skipped = workers.flatMap(\.stderrLines).filter { $0.contains("skipped") }
        #expect(!skipped.isEmpty, "the other worker says it skipped")
    }

    @Test func sigtermDuringALongPurgeStopsItCleanly() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let policy = try WorkerPolicy.write(["partitions": "off", "purge": "5 0 * * *", "requests_check": "off", "backup": "off", "backup_expire": "off"])
        defer { try? FileManager.default.removeItem(atPath: policy) }
        // An application transaction holds an old contact row: the purge's batch waits for it, retrying.
        let application = try db.newConnection()
        try application.execute("BEGIN")
        try application.execute("SELECT id FROM sms.contacts WHERE created_at < now() - interval '300 days' LIMIT 1 FOR UPDATE")
        let worker = try BackgroundLethe(["worker", "--policy", policy, "--log-format", "json", "--database-url", db.conninfo])
        let watcher = try db.newConnection()
        // The purge is inside its batch, waiting on the application's row: SIGTERM arrives mid-job.
        #expect(try KnownPoint.waitForLockWait(watcher, database: db.name, queryContains: "DELETE"), "\(KnownPoint.activity(watcher, database: db.name))")
        let (status, seconds) = worker.terminate()
        try application.execute("ROLLBACK")
        #expect(status == 0)
        #expect(seconds < 10)
        #expect(try watcher.query("SELECT status FROM lethe.purge_runs").rows.map { try $0.string("status") } == ["interrupted"])
        #expect(try runs(db, "purge") == ["interrupted"])
        let next = try LetheProcess.run(["purge", "--database-url", db.conninfo])
        #expect(next.status == 0 && next.stdout.contains("check: no row older than its customer's cutoff remains"))
    }

    @Test func statusFollowsTheLastBackupAndOnceRunsOnlyWhatIsDue() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", directory + "/keyring"]
        // A repository that cannot be created: its parent is a file.
        FileManager.default.createFile(atPath: directory + "/file", contents: Data("x".utf8))
        #expect(try LetheProcess.run(["backup", "--repo", directory + "/file/repo"] + common).status != 0)
        let failed = try LetheProcess.run(["status", "--database-url", db.conninfo])
        #expect(failed.status == 1 && failed.stdout.contains("FAILED"), "\(failed.stdout)")
        #expect(try LetheProcess.run(["backup", "--repo", directory + "/repo"] + common).status == 0)
        let healthy = try LetheProcess.run(["status", "--json", "--database-url", db.conninfo])
        #expect(healthy.status == 0, "\(healthy.stdout)")

        // --once: every job that never ran is due; a second --once right after finds nothing due.
        let policy = try WorkerPolicy.write(["backup": "off", "backup_expire": "off"])
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let first = try LetheProcess.run(["worker", "--once", "--policy", policy] + common)
        #expect(first.status == 0, "\(first.stderr)")
        let counted = try db.connection.query("SELECT count(*) AS n FROM lethe.job_runs").single("n").int("n")
        #expect(try runs(db, "purge") == ["success"] && runs(db, "partitions") == ["success"] && runs(db, "requests_check") == ["success"])
        #expect(try LetheProcess.run(["worker", "--once", "--policy", policy] + common).status == 0)
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.job_runs").single("n").int("n") == counted)
    }

    @Test func policyCheckRefusesABadScheduleWithLineAndKey() throws {
        let policy = try WorkerPolicy.write(["purge": "61 0 * * *"])
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let outcome = try LetheProcess.run(["policy", "check", policy, "--offline"])
        #expect(outcome.status == 65)
        let text = try String(contentsOfFile: policy, encoding: .utf8)
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("61 0 * * *") }! + 1
        #expect(outcome.stderr.contains("\(policy):\(line): schedule.purge:"), "\(outcome.stderr)")
    }

    /// The rules load, and promtool's unit tests (lethe-alerts.test.yml: every alert, on series labelled as a real
    /// scrape labels them) hold.
    @Test(arguments: [["check", "rules", "lethe-alerts.yml"], ["test", "rules", "lethe-alerts.test.yml"]])
    func theSampleAlertRulesPassPromtool(_ arguments: [String]) throws {
        let check = try PeerCommand.run("/usr/bin/promtool", arguments, in: LetheProcess.packageRoot.appendingPathComponent("contrib/prometheus").path)
        #expect(check.status == 0, "promtool \(arguments.joined(separator: " ")): \(check.output)")
    }
}

@Suite struct DeployedConfigurationTests {
    /// Run from any directory, a deployed binary looks for /etc/lethe/policy.yaml and says so when it is missing;
    /// on a host that has one, it reads that one (either way the test checks something: issue 34).
    @Test func outsideACheckoutThePolicyIsLookedForInEtc() throws {
        let present = FileManager.default.fileExists(atPath: "/etc/lethe/policy.yaml")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: LetheProcess.binary)
        process.arguments = ["policy", "check", "--offline"]
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "LETHE_POLICY")
        process.environment = environment
        let err = Pipe(), out = Pipe()
        process.standardError = err
        process.standardOutput = out
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if present {
            #expect(process.terminationStatus != 66 && (stdout + stderr).contains("/etc/lethe/policy.yaml"), "\(stdout)\(stderr)")
        } else {
            #expect(process.terminationStatus == 66)
            #expect(stderr.contains("/etc/lethe/policy.yaml") && stderr.contains("HINT:"), "\(stderr)")
        }
    }
}

@Suite struct OneShotJobRecordingTests {
    /// Every one-shot job command records its run in lethe.job_runs (so `lethe status` sees cron-run jobs) and
    /// writes the metrics file that `promtool check metrics` accepts.
    @Test func eachOneShotJobIsRecordedAndWritesTheMetricsFile() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", directory + "/keyring", "--repo", directory + "/repo"]
        let commands: [(String, [String])] = [
            ("partitions", ["partitions", "ensure", "--ahead", "P2D", "--database-url", db.conninfo]),
            ("purge", ["purge", "--database-url", db.conninfo]),
            ("backup", ["backup"] + common),
            ("backup_expire", ["backup", "expire"] + common),
            ("requests_check", ["requests", "check", "--database-url", db.conninfo]),
        ]
        for (job, arguments) in commands {
            let metrics = directory + "/\(job).prom"
            let outcome = try LetheProcess.run(arguments + ["--metrics-file", metrics])
            #expect(outcome.status == 0, "\(job): \(outcome.stderr)")
            let runs = try db.connection.query("SELECT outcome, started_by FROM lethe.job_runs WHERE job = $1", [.text(job)]).rows
                .map { "\(try $0.string("outcome"))/\(try $0.string("started_by"))" }
            #expect(runs == ["success/command"], "\(job): \(runs)")
            let text = (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? ""
            #expect(text.contains("lethe_job_last_success_timestamp_seconds{jobname=\"\(job)\"}"), "\(job)")
            let check = Process()
            check.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
            check.arguments = ["check", "metrics"]
            check.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: metrics))
            check.standardOutput = FileHandle.nullDevice
            check.standardError = FileHandle.nullDevice
            try check.run()
            check.waitUntilExit()
            #expect(check.terminationStatus == 0, "\(job)")
        }
        // A dry run is not a run of the job.
        #expect(try LetheProcess.run(["partitions", "ensure", "--dry-run", "--database-url", db.conninfo]).status == 0)
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.job_runs WHERE job = 'partitions'").single("n").int("n") == 1)
    }
}
