import Foundation
import Keys
import LetheCore
import Postgres
import TestSupport
import Testing

/// The pipelined import (`--jobs`): reports, row ids and contents do not depend on how many threads seal.
@Suite struct ImportPipelineTests {
    /// `rows` messages: up to 30,000 distinct numbers, a few UCS-2 texts, some with sent_at; `bad` lines get an invalid number.
    /// With `milliseconds`, send times carry a fraction of a second.
    static func file(rows: Int, bad: Set<Int> = [], milliseconds: Bool = false, in directory: String) throws -> String {
        var text = "phone,message,sent_at\n"
        text.reserveCapacity(rows * 48)
        for index in 0..<rows {
            let line = index + 2
            let phone = bad.contains(line) ? "+33 12" : "+336" + String(format: "%08d", (index * 7_919) % 30_000)
            let message = index % 97 == 0 ? "Rappel ✓ \(index)" : "Votre code est \(index % 10_000)"
            let fraction = milliseconds ? String(format: ".%03d", index % 1000) : ""
            let sentAt = index % 5 == 0 ? "2026-11-2\(index % 3)T08:00:00\(fraction)Z" : ""
            text += "\(phone),\(message),\(sentAt)\n"
        }
        return try IntakeFixture.write(text, name: "pipeline-\(rows)-\(bad.count)-\(milliseconds).csv", in: directory)
    }

    /// Every row with its sealed values opened, in id order.
    func contents(_ db: TestDatabase, keyring: String) throws -> [String] {
        let vault = try Vault(db: db.connection, keyring: try Keyring.load(path: keyring))
        return try db.connection.query("""
            SELECT id, customer_id, created_at::text AS at, recipient, recipient_bidx, body, encoding, segments FROM sms.messages ORDER BY id
            """).rows.map { row in
            let id = try row.int("id")
            let recipient = try vault.open(try row.bytes("recipient"), EnvelopeContext(table: "sms.messages", column: "recipient", customer: 1), row: id)
            let body = try vault.open(try row.bytes("body"), EnvelopeContext(table: "sms.messages", column: "body", customer: 1), row: id)
            // Rows without sent_at carry the import's start (the database clock), which differs between the two runs.
            let at = try row.string("at")
            return "\(id)|\(at.hasPrefix("2026-11-2") && at.contains("08:00:00") ? at : "import start")|\(String(decoding: recipient, as: UTF8.self))|\(Hex.encode(try row.bytes("recipient_bidx")))|"
                + "\(String(decoding: body, as: UTF8.self))|\(try row.string("encoding"))|\(try row.int("segments"))"
        }
    }

    @Test func oneThreadAndFourGiveTheSameReportAndTheSameRows() throws {
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        // 40 batches of 64: more than four workers keep in flight (8 each), so the reorder window wraps (as 40
        // batches of the default 1,024 would; the batch size is the only difference).
        let file = try Self.file(rows: 2_560, in: directory)
        var reports: [String] = []
        var tables: [[String]] = []
        for jobs in ["1", "4"] {
            let db = try TestDatabase()
            try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet')")
            let imported = try LetheProcess.run(["import", "messages", file, "--customer", "1", "--jobs", jobs, "--json", "--batch-rows", "64",
                                                 "--database-url", db.conninfo, "--keyring", keyring])
            #expect(imported.status == 0, "--jobs \(jobs): \(imported.stderr)")
            // The import's id and the database's row ids are the only differences two databases may show.
            reports.append(imported.stdout.replacingOccurrences(of: #""importId"\s*:\s*\d+"#, with: "", options: .regularExpression))
            tables.append(try contents(db, keyring: keyring))
        }
        #expect(reports[0] == reports[1])
        #expect(tables[0].count == 2_560 && tables[0] == tables[1],
                "first difference: \(zip(tables[0], tables[1]).first { $0 != $1 }.map { "\($0.0.prefix(60)) / \($0.1.prefix(60))" } ?? "lengths")")
    }

    @Test func anInvalidRowIsNamedByItsLineWithAnyNumberOfThreads() throws {
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        // The bad line sits past the first window of batches in flight (4 × 8 batches of 64 rows).
        let file = try Self.file(rows: 2_560, bad: [2_367], in: directory)
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet')")
        for jobs in ["1", "3", "4"] {
            let refused = try LetheProcess.run(["import", "messages", file, "--customer", "1", "--jobs", jobs, "--json", "--batch-rows", "64",
                                                "--database-url", db.conninfo, "--keyring", keyring])
            #expect(refused.status == 65, "--jobs \(jobs): \(refused.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any])
            let problems = report["problems"] as? [[String: Any]] ?? []
            #expect(problems.count == 1 && problems.first?["line"] as? Int == 2_367 && problems.first?["field"] as? String == "phone", "--jobs \(jobs): \(problems)")
            #expect(report["rowsWritten"] as? Int == 0)
        }
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 0)
    }

    /// Rows go in PostgreSQL's binary COPY format into the stock schema, and in text when a column has another type
    /// (here segments as integer): both store the same values, send times to the millisecond, and the import's
    /// start, to the microsecond, for rows without one.
    @Test func binaryAndTextCopyStoreTheSameRows() throws {
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let rows = 5_000
        let file = try Self.file(rows: rows, milliseconds: true, in: directory)
        var tables: [[String]] = []
        for format in ["binary", "text"] {
            let db = try TestDatabase()
            try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet')")
            if format == "text" { try db.connection.execute("ALTER TABLE sms.messages ALTER COLUMN segments TYPE integer") }
            let imported = try LetheProcess.run(["import", "messages", file, "--customer", "1", "--verbose", "--log-format", "json",
                                                 "--database-url", db.conninfo, "--keyring", keyring])
            #expect(imported.status == 0, "\(format): \(imported.stderr)")
            #expect(imported.stderr.contains(#""lethe.copy_format":"\#(format)""#), "\(format): \(imported.stderr)")
            let atStart = try db.connection.query("""
                SELECT count(*) AS n FROM sms.messages WHERE created_at = (SELECT started_at FROM lethe.imports)
                """).single("n").int("n")
            #expect(atStart == Int64(rows - rows / 5), "\(format): rows at the import's start")
            tables.append(try contents(db, keyring: keyring))
        }
        #expect(tables[0].count == rows && tables[0] == tables[1],
                "first difference: \(zip(tables[0], tables[1]).first { $0 != $1 }.map { "\($0.0.prefix(60)) / \($0.1.prefix(60))" } ?? "lengths")")
        #expect(tables[0].contains { $0.contains("08:00:00.995+00") } && tables[0].contains { $0.contains("08:00:00.005+00") })
    }
}
