import Foundation
import Keys
import LetheCore
import Postgres
import Schema

/// Issue 31's performance section, in one run on the same data: batched intake through the socket (1,000 rows a
/// request, 4 concurrent clients) against `lethe import` of the same rows; single-row intake at 16 concurrent clients
/// against pgbench inserting the same, already sealed rows one per transaction; lookup and open p99 against the
/// floor (pgbench's prepared SELECT by blind index); the idle service's CPU and RSS.
struct ServeBench {
    let scale: Double
    let lethe: String

    func run() throws {
        let rows = max(8_000, Int(200_000 * scale)) / 4_000 * 4_000
        say("== serve: lethe serve vs lethe import and pgbench (\(rows) rows) ==")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-bench-serve-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        try admin.execute("DROP DATABASE IF EXISTS lethe_bench_serve WITH (FORCE)")
        try admin.execute("CREATE DATABASE lethe_bench_serve")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS lethe_bench_serve WITH (FORCE)") }
        let conninfo = "dbname=lethe_bench_serve"
        let db = try PostgresConnection(conninfo: conninfo)
        let defaults = try String(contentsOfFile: "Policies/default.yaml", encoding: .utf8)
        let policy = directory + "/serve.yaml"
        try (defaults + "\nserve:\n  clients:\n    - name: bench\n      uid: \(getuid())\n      may: [intake, seal, lookup, open]\n")
            .write(toFile: policy, atomically: true, encoding: .utf8)
        let common = ["--policy", policy, "--database-url", conninfo]
        for arguments in [["migrate"], ["partitions", "ensure"]] {
            guard try runMeasured(lethe, arguments + common).status == 0 else { throw LetheError.software("lethe \(arguments[0]) failed") }
        }
        try db.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'bench')")
        let keyring = directory + "/keyring"
        _ = try Keyring.create(at: keyring)
        func fresh() throws {
            try db.execute("TRUNCATE sms.messages")
            try db.execute("CHECKPOINT")
        }
        // The rows: numbers and texts as the intake bench writes them, as CSV for import and JSON for the service.
        var csv = "phone,message\n"
        var batches: [String] = []
        var batch: [String] = []
        for index in 0..<rows {
            let number = String(format: "0612%06d", (index * 7_919) % 1_000_000), text = "rendez-vous demain code \(index)"
            csv += "\(number),\(text)\n"
            batch.append("{\"phone\":\"\(number)\",\"message\":\"\(text)\"}")
            if batch.count == 1_000 {
                batches.append("{\"customer\":1,\"rows\":[\(batch.joined(separator: ","))]}")
                batch = []
            }
        }
        try csv.write(toFile: directory + "/messages.csv", atomically: true, encoding: .utf8)

        var importRates: [Double] = [], serveRates: [Double] = []
        for _ in 0..<2 {
            try fresh()
            let (outcome, seconds) = try measure { try runMeasured(lethe, ["import", "messages", directory + "/messages.csv", "--customer", "1", "--keyring", keyring] + common) }
            guard outcome.status == 0 else { throw LetheError.software("lethe import exited \(outcome.status)") }
            importRates.append(Double(rows) / seconds)
        }
        let socket = directory + "/lethe.sock"
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: lethe)
        serve.arguments = ["serve", "--socket", socket, "--keyring", keyring, "--sessions", "16"] + common
        serve.standardOutput = FileHandle.nullDevice
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer { serve.terminate(); serve.waitUntilExit() }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: socket) { Thread.sleep(forTimeInterval: 0.02) }
        for _ in 0..<2 {
            try fresh()
            let queue = Locked(batches)
            let (_, seconds) = try measure {
                try concurrently(4, socket: socket) { client in
                    while let body = queue.withLock({ $0.popLast() }) {
                        let (status, _) = try client.post("/v1/intake/messages", body)
                        guard status == 200 else { throw LetheError.software("intake answered \(status)") }
                    }
                }
            }
            serveRates.append(Double(rows) / seconds)
        }
        let written = try db.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n")
        guard written == rows else { throw LetheError.software("the service wrote \(written) rows, not \(rows)") }
        say(String(format: "  batched intake (1,000 rows a request, 4 clients): %@ rows/s; lethe import of the same rows: %@ rows/s; ratio %@ (target >= 0.8x)",
                   range(serveRates), range(importRates), ratioRange(serveRates, importRates)))

        // Single rows, 16 clients, 10 s each, against pgbench inserting the same sealed row one per transaction.
        let sealed = try db.query("SELECT encode(recipient, 'hex') AS r, encode(recipient_bidx, 'hex') AS b, encode(body, 'hex') AS m FROM sms.messages LIMIT 1").single("row")
        let script = directory + "/insert.sql"
        try "INSERT INTO sms.messages (customer_id, recipient, recipient_bidx, body, encoding, segments) VALUES (1, '\\x\(try sealed.string("r"))', '\\x\(try sealed.string("b"))', '\\x\(try sealed.string("m"))', 'gsm7', 1);\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        let floor = try pgbench(script: script, clients: 16, seconds: 10, directory: directory)
        let single = try timedRequests(clients: 16, seconds: 10, socket: socket) { client, index in
            try client.post("/v1/intake/messages", "{\"customer\":1,\"rows\":[{\"phone\":\"0613\(String(format: "%06d", index % 1_000_000))\",\"message\":\"un message\"}]}")
        }
        say(String(format: "  single-row intake, 16 clients: %.0f tx/s (p99 %.1f ms); pgbench inserting the sealed row: %.0f tx/s (p99 %.1f ms); ratio %.2fx (target >= 0.5x)",
                   single.rate, single.p99 * 1000, floor.rate, floor.p99 * 1000, single.rate / floor.rate))

        // One row found and read: lookup and open p99 (one client), and the floor: a prepared SELECT by blind index.
        let id = try db.query("SELECT id FROM sms.messages ORDER BY id LIMIT 1").single("id").int("id")
        let lookup = try timedRequests(clients: 1, seconds: 5, socket: socket) { client, _ in try client.post("/v1/lookup", "{\"customer\":1,\"phone\":\"0612000000\"}") }
        let open = try timedRequests(clients: 1, seconds: 5, socket: socket) { client, _ in
            try client.post("/v1/open", "{\"table\":\"sms.messages\",\"customer\":1,\"ids\":[\(id)],\"columns\":[\"body\"]}")
        }
        let select = directory + "/select.sql"
        try "SELECT id FROM sms.messages WHERE recipient_bidx = '\\x\(try sealed.string("b"))';\n".write(toFile: select, atomically: true, encoding: .utf8)
        let selectFloor = try pgbench(script: select, clients: 1, seconds: 5, directory: directory)
        say(String(format: "  lookup p99 %.2f ms, open p99 %.2f ms; the floor (pgbench, prepared SELECT by blind index) p99 %.2f ms",
                   lookup.p99 * 1000, open.p99 * 1000, selectFloor.p99 * 1000))

        // Idle: CPU over 10 s, extrapolated to an hour, and resident memory.
        let before = try cpuSeconds(serve.processIdentifier)
        Thread.sleep(forTimeInterval: 10)
        let idle = (try cpuSeconds(serve.processIdentifier) - before) * 360
        say(String(format: "  idle service: %.2f CPU s/hour, RSS %lld KiB", idle, try rssKiB(serve.processIdentifier)))
    }

    private func range(_ values: [Double]) -> String { String(format: "%.0f-%.0f", values.min() ?? 0, values.max() ?? 0) }
    private func ratioRange(_ ours: [Double], _ floor: [Double]) -> String {
        let ratios = zip(ours, floor).map { $0 / $1 }
        return String(format: "%.2f-%.2fx", ratios.min() ?? 0, ratios.max() ?? 0)
    }

    private func concurrently(_ count: Int, socket: String, _ body: @escaping @Sendable (UnixHTTPClient) throws -> Void) throws {
        let failure = Locked<(any Error)?>(nil)
        let group = DispatchGroup()
        for _ in 0..<count {
            group.enter()
            Thread {
                defer { group.leave() }
                do { try body(try UnixHTTPClient(socket: socket)) } catch {
                    failure.withLock { $0 = error }
                }
            }.start()
        }
        group.wait()
        if let error = failure.value { throw error }
    }

    /// Requests from `clients` threads for `seconds`: the rate and the p99 latency.
    private func timedRequests(clients: Int, seconds: Double, socket: String, _ request: @escaping @Sendable (UnixHTTPClient, Int) throws -> (Int, String)) throws -> (rate: Double, p99: Double) {
        let latencies = Locked<[Double]>([])
        let deadline = Date().addingTimeInterval(seconds)
        let counter = Locked(0)
        try concurrently(clients, socket: socket) { client in
            var mine: [Double] = []
            while Date() < deadline {
                let index = counter.withLock { value -> Int in value += 1; return value }
                let start = DispatchTime.now()
                let (status, _) = try request(client, index)
                guard status == 200 else { throw LetheError.software("the service answered \(status)") }
                mine.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
            }
            latencies.withLock { $0 += mine }
        }
        let sorted = latencies.value.sorted()
        return (Double(sorted.count) / seconds, sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))])
    }

    /// pgbench with a custom script, prepared statements, per-transaction log: its rate and p99 latency.
    private func pgbench(script: String, clients: Int, seconds: Int, directory: String) throws -> (rate: Double, p99: Double) {
        let prefix = directory + "/pgbench-log-\(clients)"
        let outcome = try runMeasured("/usr/lib/postgresql/15/bin/pgbench", ["-n", "-M", "prepared", "-f", script, "-c", "\(clients)", "-j", "\(min(clients, 4))",
                                                                             "-T", "\(seconds)", "-l", "--log-prefix", prefix, "lethe_bench_serve"])
        guard outcome.status == 0 else { throw LetheError.software("pgbench exited \(outcome.status): \(outcome.output.suffix(300))") }
        var latencies: [Double] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where (directory + "/" + name).hasPrefix(prefix) {
            let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count > 2, let micros = Double(fields[2]) { latencies.append(micros / 1e6) }
            }
            try FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        latencies.sort()
        return (Double(latencies.count) / Double(seconds), latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))])
    }

    private func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
        return (Double(fields[11]) ?? 0) / 100 + (Double(fields[12]) ?? 0) / 100
    }

    private func rssKiB(_ pid: Int32) throws -> Int64 {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int64(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}

/// HTTP/1.1 over a Unix socket, keep-alive, one request at a time: the benchmark's client of `lethe serve`.
final class UnixHTTPClient: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(socket path: String) throws {
        fd = Foundation.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw LetheError.unavailable("cannot connect to \(path)") }
    }

    deinit { close(fd) }

    func post(_ path: String, _ body: String) throws -> (Int, String) {
        let payload = Array(body.utf8)
        let request = Array("POST \(path) HTTP/1.1\r\nHost: lethe\r\nContent-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n".utf8) + payload
        var offset = 0
        while offset < request.count {
            let sent = request[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            guard sent > 0 else { throw LetheError.ioError("write to the service failed") }
            offset += sent
        }
        while true {
            if let end = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                while buffer.count < end + 4 + length { try fill() }
                let text = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
                buffer.removeFirst(end + 4 + length)
                return (status, text)
            }
            try fill()
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { throw LetheError.ioError("the service closed the connection") }
        buffer += chunk[..<count]
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for index in 0...(buffer.count - needle.count) where buffer[index] == needle[0] && Array(buffer[index..<(index + needle.count)]) == needle { return index }
        return nil
    }
}
