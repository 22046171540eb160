import Foundation
import LetheCore
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

/// Runs a program and returns its exit status, its peak resident memory (KiB, from `wait4`'s rusage, as GNU time
/// reports it) and its standard output. posix_spawn and wait4 rather than Foundation's Process, whose exit wait
/// added tens of milliseconds to every timing: as much as the whole daily purge being measured.
func runMeasured(_ executable: String, _ arguments: [String]) throws -> (status: Int32, peakKiB: Int64, output: String) {
    let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-bench-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard spawned == 0 else { throw LetheError.software("cannot start \(executable): \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw LetheError.software("wait4 failed for \(executable)") }
    }
    let signal = status & 0x7F
    let exitStatus = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    return (exitStatus, Int64(usage.ru_maxrss), output)
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
        let warm = DispatchSemaphore(value: 0)
        thread = Thread {
            // A new connection's first insert builds its relation caches (milliseconds with hundreds of
            // partitions): the application's connections are warm, so that insert is not measured.
            guard let db = try? PostgresConnection(conninfo: conninfo) else { warm.signal(); return }
            _ = try? db.execute(Self.insert, [.int(customer)])
            warm.signal()
            while !box.probe!.isStopped {
                let (_, elapsed) = measure {
                    do {
                        try db.execute(Self.insert, [.int(customer)])
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
        warm.wait()
    }

    private static let insert = "INSERT INTO sms.messages (customer_id, created_at, recipient, body) VALUES ($1, now(), '\\x01'::bytea, '\\x02'::bytea)"

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
