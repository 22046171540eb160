import Foundation
import Postgres

/// One line of results, written at once (unbuffered), so figures appear as they are measured.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Wall-clock timing.
func measure<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let value = try body()
    return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

/// Cluster-wide WAL position, to count the bytes an operation writes.
func walPosition(_ db: PostgresConnection) throws -> String {
    try db.query("SELECT pg_current_wal_lsn()::text AS lsn").single("lsn").string("lsn")
}

func walBytes(_ db: PostgresConnection, since start: String) throws -> Int64 {
    try db.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS bytes", [.text(start)]).single("wal").int("bytes")
}

/// Runs a program and returns its exit status and peak resident memory (KiB), through GNU time.
func runMeasured(_ executable: String, _ arguments: [String]) throws -> (status: Int32, peakKiB: Int64, output: String) {
    let report = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-bench-\(UUID().uuidString)").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
    process.arguments = ["-f", "%M", "-o", report, executable] + arguments
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let peak = Int64((try? String(contentsOfFile: report, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
    try? FileManager.default.removeItem(atPath: report)
    return (process.terminationStatus, peak, String(decoding: output, as: UTF8.self))
}

func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }
func seconds(_ value: Double) -> String { String(format: "%.2f s", value) }
func ratio(_ value: Double) -> String { value.isFinite ? String(format: "%.1fx", value) : "inf" }

/// Single-row inserts from a concurrent client, recording each one's latency until stopped.
final class InsertLatencyProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var latencies: [Double] = []
    private var stopped = false
    private var failures = 0
    private let thread: Thread

    init(conninfo: String, customer: Int64) {
        let box = Box()
        thread = Thread {
            guard let db = try? PostgresConnection(conninfo: conninfo) else { return }
            while !box.probe!.isStopped {
                let (_, elapsed) = measure {
                    do {
                        try db.execute("INSERT INTO sms.messages (customer_id, created_at, recipient, body) VALUES ($1, now(), '\\x01'::bytea, '\\x02'::bytea)",
                                       [.int(customer)])
                    } catch {
                        box.probe!.fail()
                    }
                }
                box.probe!.record(elapsed)
                Thread.sleep(forTimeInterval: 0.002)
            }
        }
        box.probe = self
        thread.start()
    }

    private final class Box: @unchecked Sendable { weak var probe: InsertLatencyProbe? }

    var isStopped: Bool { lock.withLock { stopped } }
    func record(_ latency: Double) { lock.withLock { latencies.append(latency) } }
    func fail() { lock.withLock { failures += 1 } }

    /// Stops the probe and returns (count, p99 ms, max ms, failures).
    func finish() -> (count: Int, p99: Double, max: Double, failures: Int) {
        lock.withLock { stopped = true }
        Thread.sleep(forTimeInterval: 0.1)
        let sorted = lock.withLock { latencies.sorted() }
        guard !sorted.isEmpty else { return (0, 0, 0, failures) }
        let p99 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
        return (sorted.count, p99 * 1000, sorted.last! * 1000, lock.withLock { failures })
    }
}
