import Foundation
import LetheCore
import Postgres
import Schema

/// Issue 12's worker section: the cost of `lethe worker` while nothing is due (it sleeps until the next slot),
/// in CPU seconds per hour and peak RSS, read from /proc for a window after every job has run once.
struct WorkerBench {
    let scale: Double
    let lethe: String

    func run() throws {
        let window = max(10, 60 * scale)
        say("== worker: idle cost (nothing due for \(Int(window)) s; targets under 1 CPU s per hour and under 50 MB RSS) ==")
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        try admin.execute("DROP DATABASE IF EXISTS lethe_bench_worker WITH (FORCE)")
        try admin.execute("CREATE DATABASE lethe_bench_worker")
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_worker")
        _ = try Migrator(set: try MigrationSet.embedded()).migrate(on: db)
        let policy = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-bench-worker-\(getpid()).yaml").path
        let text = try String(contentsOfFile: "Policies/default.yaml", encoding: .utf8)
            .replacingOccurrences(of: "  backup: \"30 1 * * *\"", with: "  backup: off")
            .replacingOccurrences(of: "  backup_expire: \"30 2 * * *\"", with: "  backup_expire: off")
        try text.write(toFile: policy, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let arguments = ["worker", "--policy", policy, "--database-url", "dbname=lethe_bench_worker", "--log-format", "json"]
        // Every job runs once, so the worker then has nothing due until tomorrow's slots.
        let once = try runMeasured(lethe, arguments + ["--once"])
        guard once.status == 0 else { throw LetheError.software("lethe worker --once exited \(once.status)") }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: lethe)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 2)
        let start = try cpuSeconds(process.processIdentifier)
        Thread.sleep(forTimeInterval: window)
        let end = try cpuSeconds(process.processIdentifier)
        let peak = try peakKiB(process.processIdentifier)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let perHour = (end - start) * 3600 / window
        say(String(format: "  idle: %.3f CPU s in %.0f s = %.2f CPU s per hour; peak RSS %.1f MB; exit %d after SIGTERM",
                     end - start, window, perHour, Double(peak) / 1024, process.terminationStatus))
        try admin.execute("DROP DATABASE IF EXISTS lethe_bench_worker WITH (FORCE)")
    }

    /// utime + stime of a process, from /proc/PID/stat (fields 14 and 15, in clock ticks).
    private func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
        // After the command name: field 3 is index 0, so utime (14) is index 11 and stime (15) index 12.
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (Double(fields[11])! + Double(fields[12])!) / ticks
    }

    private func peakKiB(_ pid: Int32) throws -> Int64 {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int64(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}
