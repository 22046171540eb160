import Foundation
import Testing
import TestSupport

/// The files Lethe ships around its binary (contrib/), tried as the programs that read them do (issue 29).
@Suite struct ShippedFilesTests {
    static let contrib = LetheProcess.packageRoot.appendingPathComponent("contrib")

    /// A crontab of /etc/cron.d: its variable lines and its jobs (user and command).
    struct CronFile {
        var variables: [String: String] = [:]
        var jobs: [(schedule: String, user: String, command: String)] = []

        init(_ text: String) {
            for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) where !line.isEmpty && !line.hasPrefix("#") {
                let fields = line.split(separator: " ", maxSplits: 6, omittingEmptySubsequences: true).map(String.init)
                if fields.count == 1, let equals = line.firstIndex(of: "=") {
                    variables[String(line[..<equals])] = String(line[line.index(after: equals)...])
                } else if fields.count == 7 {
                    jobs.append((fields[0..<5].joined(separator: " "), fields[5], fields[6]))
                }
            }
        }
    }

    /// Every job line of contrib/cron/lethe, run as Debian's cron runs it: `/bin/sh -c LINE` with only the
    /// environment cron gives (HOME, LOGNAME, SHELL, cron's PATH) plus the file's own variables. Only the installed
    /// paths are moved into a temporary root; the line is otherwise the shipped one.
    @Test func everyCronLineRunsUnderCronsOwnEnvironmentAndLogsToItsFile() throws {
        let cron = CronFile(try String(contentsOf: Self.contrib.appendingPathComponent("cron/lethe"), encoding: .utf8))
        #expect(cron.variables["PATH"] == "/usr/sbin:/usr/bin:/sbin:/bin" && cron.variables["SHELL"] == "/bin/sh", "\(cron.variables)")
        #expect(cron.variables["CRON_TZ"] == nil, "Debian's cron ignores CRON_TZ")
        #expect(!cron.jobs.isEmpty)
        // A database with no personal data yet: every due job, the inspection included, succeeds on it.
        let db = try TestDatabase()
        let root = try IntakeFixture.directory(prefix: "lethe-cron")
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["etc/lethe", "var/log/lethe", "var/lib/lethe/metrics", "var/backups/lethe", "usr/bin"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try FileManager.default.createSymbolicLink(atPath: root + "/usr/bin/lethe", withDestinationPath: LetheProcess.binary)
        #expect(try LetheProcess.run(["keys", "init", "--keyring", root + "/etc/lethe/keyring"]).status == 0)
        // cron's environment has no PG* variables: the environment file says everything.
        let environment = ProcessInfo.processInfo.environment
        try """
            # as an operator edits /etc/lethe/lethe.env
            LETHE_DATABASE_URL="host=\(environment["PGHOST"] ?? "/tmp") port=\(environment["PGPORT"] ?? "5432") user=\(environment["PGUSER"] ?? "postgres") dbname=\(db.name)"
            LETHE_POLICY=\(try PolicyFixture.monthlyPolicyPath())
            LETHE_KEYRING=\(root)/etc/lethe/keyring
            LETHE_BACKUP_REPO=\(root)/var/backups/lethe
            LETHE_CRON=yes
            """.write(toFile: root + "/etc/lethe/lethe.env", atomically: true, encoding: .utf8)
        for job in cron.jobs {
            #expect(job.user == "lethe")
            let command = job.command.replacingOccurrences(of: " /usr/bin/", with: " \(root)/usr/bin/")
                .replacingOccurrences(of: " /etc/lethe/", with: " \(root)/etc/lethe/")
                .replacingOccurrences(of: " /var/", with: " \(root)/var/").replacingOccurrences(of: ">>/var/", with: ">>\(root)/var/")
            let run = try PeerCommand.run("/usr/bin/env", ["-i", "HOME=/var/lib/lethe", "LOGNAME=lethe"]
                + cron.variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + ["/bin/sh", "-c", command], in: "/")
            let mail = run.output
            #expect(run.status == 0, "\(job.command)\n\(mail)\n\((try? String(contentsOfFile: root + "/var/log/lethe/lethe.log", encoding: .utf8)) ?? "")")
            #expect(mail.isEmpty, "cron would mail this instead of logging it: \(mail)")
        }
        // The log store's file: one ECS object per line, every due job's final line among them.
        let log = try String(contentsOfFile: root + "/var/log/lethe/lethe.log", encoding: .utf8)
        let lines = log.split(separator: "\n")
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["ecs.version"] != nil, "\(line)")
        }
        for job in ["partitions", "purge", "backup", "backup_expire", "requests_check"] {
            #expect(lines.contains { $0.contains(#""event.action":"\#(job)""#) && $0.contains(#""event.outcome":"success""#) }, "\(job)\n\(log)")
        }
        let metrics = try String(contentsOfFile: root + "/var/lib/lethe/metrics/lethe.prom", encoding: .utf8)
        #expect(metrics.contains(#"lethe_job_last_success_timestamp_seconds{jobname="purge"}"#))
        let runs = try db.connection.query("SELECT count(*) AS n FROM lethe.job_runs WHERE outcome = 'success'").single("n").int("n")
        #expect(runs >= 5)
    }

    /// `backup expire` with the shipped environment file (recipients, no key that opens backups) fails recorded:
    /// a job_runs row, the metrics file, a final line at error with error.message, exit 78 (a setup to fix, not usage).
    @Test func backupExpireWithoutAKeyIsARecordedFailure() throws {
        let db = try TestDatabase()
        let root = try IntakeFixture.directory(prefix: "lethe-expire")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/repo", withIntermediateDirectories: true)
        let outcome = try LetheProcess.run(["backup", "expire", "--log-format", "json", "--repo", root + "/repo", "--metrics-file", root + "/lethe.prom",
                                            "--database-url", db.conninfo], environment: ["LETHE_KEYRING": "", "LETHE_BACKUP_KEY": ""])
        #expect(outcome.status == 78, "\(outcome.stderr)")
        let row = try #require(try db.connection.query("SELECT outcome FROM lethe.job_runs WHERE job = 'backup_expire'").first)
        #expect(try row.string("outcome") == "failure")
        let metrics = try String(contentsOfFile: root + "/lethe.prom", encoding: .utf8)
        #expect(metrics.contains(#"lethe_job_last_run_failed{jobname="backup_expire"} 1"#), "\(metrics)")
        let final = try #require(outcome.stderr.split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.first { $0["event.action"] as? String == "backup_expire" })
        #expect(final["log.level"] as? String == "error" && final["event.outcome"] as? String == "failure", "\(final)")
        #expect((final["error.message"] as? String)?.contains("needs a key that opens backups") == true, "\(final)")
        #expect(final["event.duration"] is Int, "\(final)")
    }

    /// A job command that fails before its run began (here its policy does not load) is recorded all the same:
    /// a failed run, the metrics file, the final line at error (issue 29). A dry run is never recorded.
    @Test func aJobCommandFailingBeforeItsRunIsRecorded() throws {
        let db = try TestDatabase()
        let root = try IntakeFixture.directory(prefix: "lethe-early")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let arguments = ["purge", "--log-format", "json", "--policy", root + "/missing.yaml", "--metrics-file", root + "/lethe.prom", "--database-url", db.conninfo]
        let dry = try LetheProcess.run(arguments + ["--dry-run"])
        #expect(dry.status == 66, "\(dry.stderr)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.job_runs").single("n").int("n") == 0, "a dry run is not a run")
        let failed = try LetheProcess.run(arguments)
        #expect(failed.status == 66, "\(failed.stderr)")
        let row = try #require(try db.connection.query("SELECT outcome, detail FROM lethe.job_runs WHERE job = 'purge'").first)
        #expect(try row.string("outcome") == "failure" && (try row.string("detail")).contains("missing.yaml"))
        let metrics = try String(contentsOfFile: root + "/lethe.prom", encoding: .utf8)
        #expect(metrics.contains(#"lethe_job_last_run_failed{jobname="purge"} 1"#), "\(metrics)")
        let lines = failed.stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == failed.stderr.split(separator: "\n").count, "every stderr line is JSON: \(failed.stderr)")
        #expect(lines.contains { $0["event.action"] as? String == "purge" && $0["log.level"] as? String == "error" && $0["error.message"] != nil })
    }

    /// lethe-once.service is hardened like the worker (systemd's own offline score) and cannot hang for ever.
    @Test func theTimerServiceIsAsHardenedAsTheWorker() throws {
        func exposure(_ unit: String) throws -> Double {
            let text = try PeerCommand.run("/usr/bin/systemd-analyze",
                                           ["security", "--offline=true", "--no-pager", Self.contrib.appendingPathComponent("systemd/\(unit)").path]).output
            let line = try #require(text.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(text)")
            return try #require(line.split(separator: " ").compactMap { Double($0) }.first, "\(line)")
        }
        let worker = try exposure("lethe-worker.service"), once = try exposure("lethe-once.service")
        #expect(once <= worker, "lethe-once.service \(once) vs lethe-worker.service \(worker)")
        let unit = try String(contentsOf: Self.contrib.appendingPathComponent("systemd/lethe-once.service"), encoding: .utf8)
        #expect(unit.contains("\nTimeoutStartSec="))
        for file in ["systemd/lethe-worker.service", "systemd/lethe-once.service", "cron/lethe"] {
            let text = try String(contentsOf: Self.contrib.appendingPathComponent(file), encoding: .utf8)
            #expect(!text.contains("/usr/local/bin") && text.contains("/usr/bin/lethe"), "\(file) runs the packaged binary")
        }
    }
}
