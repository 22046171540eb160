import Foundation
import Keys
import LetheCore
import LetheCrypto
import Postgres
import Schema

/// Issue 5's intake section: importing a generated 1M-row CSV (validate, normalise, encrypt, COPY) against
/// `psql \copy` of the same file into a plain text table; and the envelope's AES-256-GCM throughput
/// against `openssl speed -evp aes-256-gcm`.
/// The default `--jobs` of `lethe import`: the machine's cores.
enum ImportOptionsDefault { static var jobs: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) } }

struct IntakeBench {
    let scale: Double
    let lethe: String

    func run() throws {
        let rows = max(10_000, Int(1_000_000 * scale))
        say("== intake: lethe import vs psql \\copy (\(rows) rows) ==")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-bench-intake-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let csv = directory + "/messages.csv"
        try writeCSV(csv, rows: rows, distinctNumbers: 1_000_000)
        let campaign = directory + "/campaign.csv"
        try writeCSV(campaign, rows: rows, distinctNumbers: 10_000)
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        try admin.execute("DROP DATABASE IF EXISTS lethe_bench_intake WITH (FORCE)")
        try admin.execute("CREATE DATABASE lethe_bench_intake")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS lethe_bench_intake WITH (FORCE)") }
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_intake")
        _ = try Migrator(set: try MigrationSet.embedded()).migrate(on: db)
        try db.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'bench')")
        try db.execute("CREATE TABLE plain_messages (phone text, message text)")
        let keyring = directory + "/keyring"
        _ = try Keyring.create(at: keyring)

        // Issue 17's fair floor: the very rows Lethe writes, sealed once by it, loaded by `\copy` into the same
        // sms.messages with its indexes. Every run starts from the same empty table after a checkpoint.
        func fresh() throws {
            try db.execute("TRUNCATE sms.messages")
            try db.execute("CHECKPOINT")
        }
        func importRun(_ file: String, jobs: Int?) throws -> (seconds: Double, peakKiB: Int64) {
            try fresh()
            let arguments = ["import", "messages", file, "--customer", "1", "--keyring", keyring, "--database-url", "dbname=lethe_bench_intake"]
                + (jobs.map { ["--jobs", String($0)] } ?? [])
            let (outcome, elapsed) = try measure { try runMeasured(lethe, arguments) }
            guard outcome.status == 0 else { throw LetheError.software("lethe import exited \(outcome.status)") }
            let written = try db.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n")
            guard written == rows else { throw LetheError.software("lethe import wrote \(written) rows, not \(rows)") }
            return (elapsed, outcome.peakKiB)
        }
        let columns = "id, customer_id, created_at, recipient, recipient_bidx, body, encoding, segments"
        let sealed = directory + "/sealed.copy"
        _ = try importRun(csv, jobs: nil)
        // The same rows in COPY's binary format too, as lethe now sends them: a second floor, beside the issue's.
        let sealedBinary = directory + "/sealed.bin"
        for (file, option) in [(sealed, ""), (sealedBinary, " WITH (FORMAT binary)")] {
            let exported = try runMeasured("/usr/bin/psql", ["-q", "-d", "lethe_bench_intake", "-c", "\\copy (SELECT \(columns) FROM sms.messages) TO '\(file)'\(option)"])
            guard exported.status == 0 else { throw LetheError.software("psql \\copy TO exited \(exported.status)") }
        }
        func floorRun(_ file: String, _ option: String) throws -> Double {
            try fresh()
            let (loaded, seconds) = try measure {
                try runMeasured("/usr/bin/psql", ["-q", "-d", "lethe_bench_intake", "-c", "\\copy sms.messages (\(columns)) FROM '\(file)'\(option)"])
            }
            guard loaded.status == 0 else { throw LetheError.software("psql \\copy sealed rows exited \(loaded.status)") }
            return Double(rows) / seconds
        }
        var floors: [Double] = [], binaryFloors: [Double] = [], distinct: [Double] = [], campaignRuns: [Double] = []
        var distinctOne = 0.0, campaignOne = 0.0, peak: Int64 = 0
        // Twice each, interleaved, on the same data: the machine is noisy, and the range is the figure.
        for _ in 0..<2 {
            floors.append(try floorRun(sealed, ""))
            binaryFloors.append(try floorRun(sealedBinary, " WITH (FORMAT binary)"))
            let run = try importRun(csv, jobs: nil)
            distinct.append(Double(rows) / run.seconds)
            peak = max(peak, run.peakKiB)
            campaignRuns.append(Double(rows) / (try importRun(campaign, jobs: nil)).seconds)
        }
        distinctOne = Double(rows) / (try importRun(csv, jobs: 1)).seconds
        campaignOne = Double(rows) / (try importRun(campaign, jobs: 1)).seconds
        try fresh()
        let (copied, copySeconds) = try measure {
            try runMeasured("/usr/bin/psql", ["-q", "-d", "lethe_bench_intake", "-c", "\\copy plain_messages (phone, message) FROM '\(csv)' CSV HEADER"])
        }
        guard copied.status == 0 else { throw LetheError.software("psql \\copy exited \(copied.status)") }
        func range(_ values: [Double]) -> String { String(format: "%.0f..%.0f rows/s", values.min()!, values.max()!) }
        func ratios(_ values: [Double], to floors: [Double] = floors) -> String {
            let each = zip(values, floors).map { $0 / $1 }
            return String(format: "%.2f..%.2fx", each.min()!, each.max()!)
        }
        say("  (a) fair floor, psql \\copy of the same rows already sealed into sms.messages with its indexes: \(range(floors))")
        say("  (b) lethe import, ~63% distinct numbers, --jobs \(ImportOptionsDefault.jobs): \(range(distinct)) = \(ratios(distinct)) of (a) (target >= 0.7); "
            + String(format: "--jobs 1: %.0f rows/s (%.2fx of (a)); peak RSS %.1f MB", distinctOne, distinctOne / floors.max()!, Double(peak) / 1024))
        say("  (c) lethe import, 10,000 distinct numbers, --jobs \(ImportOptionsDefault.jobs): \(range(campaignRuns)) = \(ratios(campaignRuns)) of (a) (target >= 0.9); "
            + String(format: "--jobs 1: %.0f rows/s (%.2fx of (a))", campaignOne, campaignOne / floors.max()!))
        say("  (a') the same rows in COPY's binary format (how lethe sends them): \(range(binaryFloors)) = \(ratios(binaryFloors))"
            + " of (a); (b) is \(ratios(distinct, to: binaryFloors)) and (c) \(ratios(campaignRuns, to: binaryFloors)) of (a')")
        say(String(format: "  (continuity) psql \\copy of the CSV into a plain two-column table: %.0f rows/s", Double(rows) / copySeconds))
        try measureCipher()
    }

    private func writeCSV(_ path: String, rows: Int, distinctNumbers: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else { throw LetheError.ioError("cannot write \(path)") }
        defer { try? handle.close() }
        let words = ["rendez-vous", "demain", "confirmé", "votre", "code", "est", "colis", "livré", "merci", "à", "bientôt", "rappel"]
        var chunk = "phone,message\n"
        var seed: UInt64 = 42
        for index in 0..<rows {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let number = String(format: "0612%06d", Int(seed >> 33) % distinctNumbers)
            let length = 6 + Int(seed >> 60)
            let text = (0..<length).map { words[(index + $0 * 7 + Int(seed >> 40 & 0xFF)) % words.count] }.joined(separator: " ")
            chunk += "\(number),\(text) \(index)\n"
            if chunk.utf8.count > 1 << 20 {
                handle.write(Data(chunk.utf8))
                chunk = ""
            }
        }
        handle.write(Data(chunk.utf8))
    }

    /// Seal throughput of the envelope code against OpenSSL's own benchmark, at 16 KiB and 64-byte values.
    private func measureCipher() throws {
        let cipher = try AESGCM()
        let key = try SecretKey.random()
        let context = EnvelopeContext(table: "sms.messages", column: "body", customer: 1)
        let reference = try opensslSpeed()
        for size in [16384, 64] {
            let value = [UInt8](repeating: 0x61, count: size)
            var bytes = 0
            let (_, elapsed) = try measure {
                while bytes < (size > 1000 ? 2_000_000_000 : 100_000_000) {
                    _ = try Envelope.seal(value, key: key, keyId: 1, context: context, row: Int64(bytes), cipher: cipher)
                    bytes += size
                }
            }
            let ours = Double(bytes) / elapsed
            let theirs = reference[size] ?? .nan
            say(String(format: "  AES-256-GCM %5d-byte values: envelope %.0f MB/s, openssl speed %.0f MB/s, ratio %.2f%@",
                         size, ours / 1e6, theirs / 1e6, ours / theirs, size > 1000 ? " (target >= 0.5)" : " (per-value nonce and header dominate)"))
        }
    }

    /// `openssl speed -evp aes-256-gcm -mr`: bytes per second by block size.
    private func opensslSpeed() throws -> [Int: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["speed", "-evp", "aes-256-gcm", "-mr", "-seconds", "1"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var sizes: [Int] = [], rates: [Double] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":")
            if line.hasPrefix("+H") { sizes = fields.dropFirst().compactMap { Int($0) } }
            if line.hasPrefix("+F") { rates = fields.dropFirst(3).compactMap { Double($0) } }
        }
        return Dictionary(uniqueKeysWithValues: zip(sizes, rates))
    }
}
