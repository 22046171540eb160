import Foundation
import Telemetry
import Testing

/// The metrics file as node_exporter and Prometheus read it: the names and labels the alert rules select, valid
/// exposition text (Prometheus's own `promtool check metrics`), and an atomic, world-readable replacement.
@Suite struct MetricsTextfileTests {
    static func snapshot() -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        snapshot.jobs = [
            .init(job: "purge", lastRun: Date(timeIntervalSince1970: 1_800_000_000), lastSuccess: Date(timeIntervalSince1970: 1_800_000_010),
                  lastDuration: 10.5, failures: 2, lastRunFailed: false),
            .init(job: "backup", lastRun: Date(timeIntervalSince1970: 1_800_000_100), lastSuccess: nil, lastDuration: 1, failures: 1, lastRunFailed: true),
        ]
        snapshot.purgeRowsDeleted = ["sms.messages": 1234]
        snapshot.purgePartitionsDropped = ["sms.messages": 3]
        snapshot.backupSizeBytes = 4096
        snapshot.requestsOverdue = 1
        snapshot.inspectFindings = ["unsealed_value": 2]
        return snapshot
    }

    @Test func theSeriesTheAlertsSelectAreThere() {
        let text = MetricsTextfile.render(Self.snapshot())
        for series in [
            #"lethe_job_last_run_timestamp_seconds{jobname="purge"} 1800000000"#,
            #"lethe_job_last_success_timestamp_seconds{jobname="purge"} 1800000010"#,
            #"lethe_job_failures_total{jobname="backup"} 1"#,
            #"lethe_job_last_run_failed{jobname="backup"} 1"#,
            #"lethe_job_last_run_failed{jobname="purge"} 0"#,
            #"lethe_purge_rows_deleted_total{table="sms.messages"} 1234"#,
            #"lethe_purge_partitions_dropped_total{table="sms.messages"} 3"#,
            "lethe_backup_size_bytes 4096", "lethe_requests_overdue 1",
            #"lethe_inspect_findings{kind="unsealed_value"} 2"#,
        ] {
            #expect(text.contains(series), "missing \(series) in:\n\(text)")
        }
        #expect(!text.contains("job=\""), "`job` is the scrape target's label: Prometheus would rename ours to exported_job")
        #expect(!text.contains(#"lethe_job_last_success_timestamp_seconds{jobname="backup"}"#), "no success yet: no series, so absent() fires")
    }

    @Test func promtoolAcceptsTheFile() throws {
        let promtool = "/usr/bin/promtool"
        try #require(FileManager.default.isExecutableFile(atPath: promtool), "promtool (Debian's prometheus package; make deps installs it)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(MetricsTextfile.render(Self.snapshot()).utf8))
        try input.fileHandleForWriting.close()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // promtool exits 3 for lint warnings only; 1 for a file it cannot parse.
        #expect(process.terminationStatus != 1, "promtool check metrics: \(said)")
        #expect(!said.contains("error"), "promtool check metrics: \(said)")
    }

    @Test func theFileIsReplacedAtomicallyAndReadableByTheCollector() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-metrics-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/lethe.prom"
        try MetricsTextfile.write(Self.snapshot(), to: path)
        try MetricsTextfile.write(MetricsSnapshot(), to: path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["lethe.prom"], "no temporary file left")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o644)
        #expect(!(try String(contentsOfFile: path, encoding: .utf8)).contains("sms.messages"), "the second write replaced the first")
        #expect(throws: (any Error).self) { try MetricsTextfile.write(MetricsSnapshot(), to: directory + "/missing/lethe.prom") }
    }
}
