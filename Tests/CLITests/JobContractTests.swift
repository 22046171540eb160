import Foundation
import Postgres
import TestSupport
import Testing

/// One job contract, two callers (issue 27): every scheduled job run by its one-shot command and by
/// `lethe worker --once` takes the same advisory lock, records the same kind of `job_runs` row, ends with the
/// same final ECS line and writes the same metrics series.
@Suite struct JobContractTests {
    struct Job: Sendable, CustomStringConvertible {
        let name: String
        let command: [String]
        let lockKey: Int
        var description: String { name }
    }

    static let jobs = [
        Job(name: "partitions", command: ["partitions", "ensure"], lockKey: 6),
        Job(name: "purge", command: ["purge"], lockKey: 2),
        Job(name: "backup", command: ["backup"], lockKey: 3),
        Job(name: "backup_expire", command: ["backup", "expire"], lockKey: 7),
        Job(name: "requests_check", command: ["requests", "check"], lockKey: 8),
        Job(name: "inspect", command: ["inspect"], lockKey: 9),
    ]

    /// The final line of the job in `stderr`, as an object.
    func finalLine(_ stderr: String, job: String) throws -> [String: Any] {
        let objects = try stderr.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        }
        return try #require(objects.last { ["job finished", "job failed"].contains($0["message"] as? String) && $0["event.action"] as? String == job },
                            "no final line for \(job) in: \(stderr)")
    }

    /// The series of a metrics file (name and labels, no value), for comparing what two writers publish.
    func series(_ path: String) throws -> Set<String> {
        Set(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { String($0.split(separator: " ").first!) })
    }

    @Test(arguments: jobs) func bothCallersRunTheJobTheSameWay(_ job: Job) throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        let directory = try IntakeFixture.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        var schedule = Dictionary(uniqueKeysWithValues: Self.jobs.map { ($0.name, "off") })
        schedule[job.name] = "0 0 * * *"
        let policy = try WorkerPolicy.write(schedule)
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let environment = ["LETHE_KEYRING": directory + "/keyring", "LETHE_BACKUP_REPO": directory + "/repo", "LETHE_POLICY": policy,
                           "LETHE_DATABASE_URL": db.conninfo]
        let worker = ["worker", "--once", "--log-format", "json", "--metrics-file", directory + "/worker.prom"]
        let command = job.command + ["--log-format", "json", "--metrics-file", directory + "/command.prom"]
        let runs = { try db.connection.query("SELECT started_by, outcome, detail FROM lethe.job_runs WHERE job = $1 ORDER BY id", [.text(job.name)]).rows }

        // The same lock: held by someone else, the worker skips the slot and the command exits 75; neither records a run.
        let holder = try db.newConnection()
        try holder.execute("SELECT pg_advisory_lock(\(0x4C45_5448), \(job.lockKey))")
        let skipped = try LetheProcess.run(worker, environment: environment)
        #expect(skipped.status == 0 && skipped.stderr.contains("skipped: the job is running elsewhere"), "\(skipped.status): \(skipped.stderr)")
        let refused = try LetheProcess.run(command, environment: environment)
        #expect(refused.status == 75 && refused.stderr.contains("is running on this database"), "\(refused.status): \(refused.stderr)")
        #expect(try runs().isEmpty)
        try holder.execute("SELECT pg_advisory_unlock_all()")

        // The worker's run of the slot, then the command's: the same outcome, row, final line and series.
        let byWorker = try LetheProcess.run(worker, environment: environment)
        let byCommand = try LetheProcess.run(command, environment: environment)
        #expect(byWorker.status == byCommand.status, "worker \(byWorker.status): \(byWorker.stderr)\ncommand \(byCommand.status): \(byCommand.stderr)")
        let rows = try runs()
        try #require(rows.count == 2, "\(rows.count) runs recorded")
        #expect(try rows.map { try $0.string("started_by") } == ["worker", "command"])
        #expect(try rows[0].string("outcome") == rows[1].string("outcome"))
        // The same result line, numbers aside (run ids, sizes, counts).
        let shape = { (detail: String) in detail.replacingOccurrences(of: "[0-9][0-9A-Za-z:.-]*", with: "N", options: .regularExpression) }
        let details = try rows.map { try $0.string("detail") }
        #expect(shape(details[0]) == shape(details[1]), "\(details)")
        let workerLine = try finalLine(byWorker.stderr, job: job.name), commandLine = try finalLine(byCommand.stderr, job: job.name)
        for field in ["message", "log.level", "event.outcome"] {
            #expect(workerLine[field] as? String == commandLine[field] as? String, "\(field): \(workerLine) vs \(commandLine)")
        }
        #expect(Set(workerLine.keys).subtracting(["lethe.slot", "log.logger"]) == Set(commandLine.keys).subtracting(["log.logger"]),
                "\(workerLine.keys.sorted()) vs \(commandLine.keys.sorted())")
        if workerLine["event.outcome"] as? String == "failure" { #expect(commandLine["error.message"] != nil || commandLine["lethe.detail"] != nil) }
        #expect(try series(directory + "/worker.prom") == series(directory + "/command.prom"))
    }
}
