import Foundation
import Keys
import Postgres
import TestSupport
import Testing

@Suite struct IntakeCommandTests {
    func setUp() throws -> (TestDatabase, String, [String]) {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet Medical'), (2, 'Relais Colis')")
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        return (db, directory, ["--database-url", db.conninfo, "--keyring", keyring])
    }

    func secretsIn(_ outcome: LetheProcess.Outcome) -> [String] {
        let all = outcome.stdout + outcome.stderr
        return IntakeFixture.people.flatMap { [$0.e164, $0.digits, $0.national, "Mercier", "Zanzibar", "Pelican", "x@example.com"] }
            .filter { all.contains($0) }
    }

    @Test func extraEmailColumnRefusesTheFileNamingIt() throws {
        let (db, directory, common) = try setUp()
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(extraHeader: "email"), name: "m.csv", in: directory)
        let outcome = try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common)
        #expect(outcome.status == 65)
        #expect(outcome.stdout.contains("unknown field 'email' on line 1"))
        #expect(outcome.stderr.contains("'email'"))
        #expect(secretsIn(outcome).isEmpty)
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 0)
        let validate = try LetheProcess.run(["validate", "messages", file, "--log-format", "json"])
        #expect(validate.status == 65 && secretsIn(validate).isEmpty)
    }

    @Test func invalidPhoneOnLineSevenIsReportedAsLineSeven() throws {
        let (db, directory, common) = try setUp()
        var rows = (1...5).map { "0612345\(String(format: "%03d", $0)),bonjour" }
        rows.append("+33 0 00 00,bonjour")
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(rows: rows), name: "m.csv", in: directory)
        let outcome = try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common)
        #expect(outcome.status == 65)
        #expect(outcome.stdout.contains("line 7: phone:"))
        #expect(!outcome.stdout.contains("+33 0 00 00"))
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 0)
        let json = try LetheProcess.run(["validate", "messages", file, "--json"])
        #expect(json.status == 65 && json.stdout.contains("\"line\" : 7"))
    }

    @Test func importedDataLeavesNoPlaintextInADump() throws {
        let (db, directory, common) = try setUp()
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        let outcome = try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common)
        #expect(outcome.status == 0 && outcome.stdout.contains("imported 3 rows"))
        #expect(secretsIn(outcome).isEmpty)
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: "/usr/bin/pg_dump")
        dump.arguments = ["--dbname", db.name]
        let pipe = Pipe()
        dump.standardOutput = pipe
        try dump.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        dump.waitUntilExit()
        #expect(dump.terminationStatus == 0 && text.contains("COPY sms.messages"))
        for person in IntakeFixture.people {
            for needle in [person.e164, person.digits, person.national, "Mercier", "Zanzibar", "Pelican"] { #expect(!text.contains(needle), "\(needle)") }
        }
    }

    /// A gateway's queue table, declared with only a policy (issue 30, defects 1 and 2): with no `id:` the
    /// never-filled `id` column would be the row id, and a migration that sealed nothing must not succeed; with
    /// its real `integer` id, the walk starts without an out-of-range cursor and seals every value.
    @Test func aRowIdThatIsNeverFilledIsRefusedAndAnIntegerIdIsWalked() throws {
        let (db, directory, common) = try setUp()
        try db.connection.execute("CREATE TABLE sms.outbox (msg_id serial PRIMARY KEY, id integer, account bigint NOT NULL, receiver bytea, sent timestamptz NOT NULL)")
        try db.connection.execute("""
            INSERT INTO sms.outbox (account, receiver, sent) SELECT 1, convert_to('+3361234' || lpad(g::text, 4, '0'), 'UTF8'), now() FROM generate_series(1, 30) g
            """)
        func policy(id: String?) throws -> String {
            let base = try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml"), encoding: .utf8)
            let table = """
                tables:
                  - table: sms.outbox
                \(id.map { "    id: \($0)\n" } ?? "")    timestamp: sent
                    customer: account
                    retention: P6M
                    personal: [receiver]
                    category: Outgoing queue

                """
            let path = directory + "/policy-\(id ?? "none").yaml"
            try base.replacingOccurrences(of: "tables:\n", with: table).write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let migrate = ["encrypt", "migrate", "--table", "sms.outbox", "--column", "receiver", "--from", "plaintext"]
        let unfilled = try LetheProcess.run(migrate + ["--policy", try policy(id: nil)] + common)
        #expect(unfilled.status == 78 && unfilled.stderr.contains("sms.outbox: 30 row(s) with a receiver value have no row id (id is NULL)")
                && unfilled.stderr.contains("HINT:"), "\(unfilled.status): \(unfilled.stderr)")
        let verifyUnfilled = try LetheProcess.run(["encrypt", "verify", "--table", "sms.outbox", "--policy", try policy(id: nil)] + common)
        #expect(verifyUnfilled.status == 78, "\(verifyUnfilled.status): \(verifyUnfilled.stderr)")
        let integer = try policy(id: "msg_id")
        let sealed = try LetheProcess.run(migrate + ["--policy", integer] + common)
        #expect(sealed.status == 0, "\(sealed.status): \(sealed.stderr)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.outbox WHERE substring(receiver FROM 1 FOR 3) = 'LTH'::bytea").single("n").int("n") == 30)
        let verified = try LetheProcess.run(["encrypt", "verify", "--table", "sms.outbox", "--policy", integer] + common)
        #expect(verified.status == 0 && verified.stdout.contains("30 sealed value(s) checked, 0 failed"), "\(verified.stdout)\(verified.stderr)")
    }

    /// Clear text a foreign writer left in a sealed column is not tampering (issue 30, defect 6): verify counts it
    /// as unsealed and exits 1 with the command that seals it; 79 stays for envelopes that do not open.
    @Test func clearTextIsCountedAsUnsealedAndTamperingKeepsTheIntegrityCode() throws {
        let (db, directory, common) = try setUp()
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        #expect(try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common).status == 0)
        try db.connection.execute("""
            INSERT INTO sms.messages (customer_id, created_at, recipient, body) VALUES (1, now(), convert_to('+33611112222', 'UTF8'), convert_to('Votre code est 4242', 'UTF8'))
            """)
        let unsealed = try LetheProcess.run(["encrypt", "verify"] + common)
        #expect(unsealed.status == 1, "\(unsealed.status): \(unsealed.stderr)")
        #expect(unsealed.stdout.contains("failed, 2 not sealed yet") && unsealed.stderr.contains("sms.messages.body: 1")
                && unsealed.stderr.contains("HINT: lethe encrypt migrate --table sms.messages --column body --from plaintext"), "\(unsealed.stdout)\(unsealed.stderr)")
        #expect(!(unsealed.stdout + unsealed.stderr).contains("4242") && !(unsealed.stdout + unsealed.stderr).contains("611112222"))
        // A sealed value altered on top: that one is 79, whatever else is unsealed.
        try db.connection.execute("""
            UPDATE sms.messages SET body = overlay(body PLACING decode(lpad(to_hex(get_byte(body, 30) # 1), 2, '0'), 'hex') FROM 31 FOR 1)
            WHERE id = (SELECT min(id) FROM sms.messages)
            """)
        #expect(try LetheProcess.run(["encrypt", "verify"] + common).status == 79)
    }

    @Test func tamperedOrSwappedCiphertextsFailWithTheIntegrityCode() throws {
        let (db, directory, common) = try setUp()
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        #expect(try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common).status == 0)
        #expect(try LetheProcess.run(["import", "messages", file, "--customer", "2"] + common).status == 0)
        #expect(try LetheProcess.run(["encrypt", "verify"] + common).status == 0)
        let ids = try db.connection.query("SELECT id FROM sms.messages ORDER BY id").rows.map { try $0.int("id") }
        // One flipped byte in the middle of a body ciphertext.
        try db.connection.execute("UPDATE sms.messages SET body = overlay(body PLACING decode(lpad(to_hex(get_byte(body, 30) # 1), 2, '0'), 'hex') FROM 31 FOR 1) WHERE id = $1", [.int(ids[1])])
        let flipped = try LetheProcess.run(["encrypt", "verify"] + common)
        #expect(flipped.status == 79)
        #expect(flipped.stderr.contains("sms.messages.body of row \(ids[1]) (customer 1)"))
        // Restore, then swap two customers' recipients.
        try db.connection.execute("UPDATE sms.messages SET body = overlay(body PLACING decode(lpad(to_hex(get_byte(body, 30) # 1), 2, '0'), 'hex') FROM 31 FOR 1) WHERE id = $1", [.int(ids[1])])
        #expect(try LetheProcess.run(["encrypt", "verify"] + common).status == 0)
        try db.connection.execute("""
            UPDATE sms.messages m SET recipient = o.recipient FROM sms.messages o
            WHERE (m.id, o.id) IN (($1, $2), ($2, $1))
            """, [.int(ids[0]), .int(ids[3])])
        let swapped = try LetheProcess.run(["encrypt", "verify", "--table", "sms.messages"] + common)
        #expect(swapped.status == 79)
        #expect(swapped.stderr.contains("row \(ids[0])") && swapped.stderr.contains("row \(ids[3])"))
        #expect(secretsIn(swapped).isEmpty)
        // Swapped back; two rows of one customer exchange bodies: bound to their rows, neither opens.
        try db.connection.execute("""
            UPDATE sms.messages m SET recipient = o.recipient FROM sms.messages o
            WHERE (m.id, o.id) IN (($1, $2), ($2, $1))
            """, [.int(ids[0]), .int(ids[3])])
        try db.connection.execute("""
            UPDATE sms.messages m SET body = o.body FROM sms.messages o
            WHERE (m.id, o.id) IN (($1, $2), ($2, $1))
            """, [.int(ids[0]), .int(ids[1])])
        let sameCustomer = try LetheProcess.run(["encrypt", "verify", "--table", "sms.messages"] + common)
        #expect(sameCustomer.status == 79)
        #expect(sameCustomer.stderr.contains("body of row \(ids[0]) (customer 1)") && sameCustomer.stderr.contains("body of row \(ids[1]) (customer 1)"), "\(sameCustomer.stderr)")
        try db.connection.execute("""
            UPDATE sms.messages m SET body = o.body FROM sms.messages o
            WHERE (m.id, o.id) IN (($1, $2), ($2, $1))
            """, [.int(ids[0]), .int(ids[1])])
        // Then two rows of one customer exchange blind indexes, which would hide them from export
        // and erasure: verify names both.
        #expect(try LetheProcess.run(["encrypt", "verify"] + common).status == 0)
        try db.connection.execute("""
            UPDATE sms.messages m SET recipient_bidx = o.recipient_bidx FROM sms.messages o
            WHERE (m.id, o.id) IN (($1, $2), ($2, $1))
            """, [.int(ids[0]), .int(ids[1])])
        let reindexed = try LetheProcess.run(["encrypt", "verify", "--table", "sms.messages"] + common)
        #expect(reindexed.status == 79, "\(reindexed.stdout)\(reindexed.stderr)")
        #expect(reindexed.stderr.contains("recipient_bidx of row \(ids[0])") && reindexed.stderr.contains("recipient_bidx of row \(ids[1])"), "\(reindexed.stderr)")
        #expect(secretsIn(reindexed).isEmpty)
    }

    @Test func legacyCBCColumnIsMigratedAndCorruptValuesAreLeft() throws {
        let (db, directory, common) = try setUp()
        let keyHex = "2b7e151628aed2a6abf7158809cf4f3c"
        let keyFile = try IntakeFixture.write(keyHex + "\n", name: "legacy.key", in: directory)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile)
        var expected: [Int64: String] = [:]
        for (index, text) in ["Rappel: RDV lundi", "Votre code est 1234", "Bonne année !"].enumerated() {
            let ivHex = String(repeating: String(format: "%02x", index + 1), count: 16)
            let ciphertext = try openssl(["enc", "-aes-128-cbc", "-K", keyHex, "-iv", ivHex], input: Data(text.utf8))
            let id = Int64(index + 1)
            try db.connection.execute("""
                INSERT INTO sms.contacts (id, customer_id, phone, name) VALUES ($1, 1, '\\x00'::bytea, $2)
                """, [.int(id), .bytes(Array(Data(hex: ivHex)) + Array(ciphertext))])
            expected[id] = text
        }
        try db.connection.execute("INSERT INTO sms.contacts (id, customer_id, phone, name) VALUES (4, 1, '\\x00'::bytea, '\\x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20'::bytea)")
        let before = try db.connection.query("SELECT name FROM sms.contacts WHERE id = 4").single("name").bytes("name")
        let outcome = try LetheProcess.run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "name", "--from", "aes-128-cbc",
                                            "--legacy-key-file", keyFile] + common)
        #expect(outcome.status == 1)
        #expect(outcome.stdout.contains("row 4: does not decrypt"))
        #expect(outcome.stdout.contains("3 value(s)"))
        #expect(try db.connection.query("SELECT name FROM sms.contacts WHERE id = 4").single("name").bytes("name") == before)
        let vault = try Vault(db: db.connection, keyring: try Keyring.load(path: directory + "/keyring"))
        for (id, text) in expected {
            let sealed = try db.connection.query("SELECT name FROM sms.contacts WHERE id = $1", [.int(id)]).single("name").bytes("name")
            let opened = try vault.open(sealed, EnvelopeContext(table: "sms.contacts", column: "name", customer: 1), row: id)
            #expect(String(decoding: opened, as: UTF8.self) == text)
        }
        let again = try LetheProcess.run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "name", "--from", "aes-128-cbc",
                                          "--legacy-key-file", keyFile] + common)
        #expect(again.stdout.contains("0 value(s)"))
    }

    /// Sealed or not is decided by opening, not by the header bytes: a plaintext name that happens to begin with
    /// `LTH` and a version byte (and is long enough to look like an envelope) is sealed like any other.
    @Test func plaintextThatBeginsLikeAnEnvelopeIsSealedToo() throws {
        let (db, directory, common) = try setUp()
        let shaped = Array("LTH".utf8) + [2] + Array(String(repeating: "Mercier Zanzibar ", count: 4).utf8)
        try db.connection.execute("INSERT INTO sms.contacts (id, customer_id, phone, name) VALUES (1, 1, '\\x00'::bytea, $1), (2, 1, '\\x00'::bytea, $2)",
                                  [.bytes(shaped), .bytes(Array("Pelican".utf8))])
        let outcome = try LetheProcess.run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "name", "--from", "plaintext"] + common)
        #expect(outcome.status == 0 && outcome.stdout.contains("2 value(s)"), "\(outcome.stdout)\(outcome.stderr)")
        #expect(secretsIn(outcome).isEmpty)
        let vault = try Vault(db: db.connection, keyring: try Keyring.load(path: directory + "/keyring"))
        let sealed = try db.connection.query("SELECT name FROM sms.contacts WHERE id = 1").single("name").bytes("name")
        #expect(try vault.open(sealed, EnvelopeContext(table: "sms.contacts", column: "name", customer: 1), row: 1) == shaped)
        let again = try LetheProcess.run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "name", "--from", "plaintext"] + common)
        #expect(again.stdout.contains("0 value(s)"), "\(again.stdout)")
    }

    @Test func rotationKeepsEverythingReadableAndShreddingDoesNot() throws {
        let (db, directory, common) = try setUp()
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        #expect(try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common).status == 0)
        // Step one adds the KEK durably and wraps nothing with it; every data key still opens with the file on disk.
        let added = try LetheProcess.run(["keys", "rotate"] + common)
        #expect(added.status == 0 && added.stdout.contains("key-encryption key 2 added") && added.stdout.contains("--rewrap"), "\(added.stdout)")
        #expect(try LetheProcess.run(["encrypt", "verify"] + common).status == 0)
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.kek_fingerprints").single("n").int("n") == 2)
        // Until step two, nothing new is wrapped with the KEK the offline copy may lack: a new customer's data key
        // and a keyring-sealed backup both use KEK 1 (issue 28 item 8).
        #expect(try LetheProcess.run(["import", "messages", file, "--customer", "2"] + common).status == 0)
        #expect(try db.connection.query("SELECT kek_id FROM lethe.customer_keys WHERE customer_id = 2").single("key").int("kek_id") == 1)
        let pendingBackup = try LetheProcess.run(["backup", "--json", "--repo", directory + "/repo"] + common)
        #expect(pendingBackup.status == 0 && pendingBackup.stdout.contains("\"kekId\" : 1"), "\(pendingBackup.stdout)\(pendingBackup.stderr)")
        let pendingStatus = try LetheProcess.run(["keys", "status"] + common)
        #expect(pendingStatus.stdout.contains("pending"), "\(pendingStatus.stdout)")
        let rotated = try LetheProcess.run(["keys", "rotate", "--rewrap"] + common)
        #expect(rotated.status == 0 && rotated.stdout.contains("key-encryption key 2: 2 data key(s) re-wrapped"), "\(rotated.stdout)")
        // A keyring that is not this database's (a second `keys init`) is refused before anything is sealed.
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/other"]).status == 0)
        let keysBefore = try db.connection.query("SELECT count(*) AS n FROM lethe.customer_keys").single("n").int("n")
        let wrong = try LetheProcess.run(["import", "messages", file, "--customer", "2", "--database-url", db.conninfo, "--keyring", directory + "/other"])
        #expect(wrong.status == 78 && wrong.stderr.contains("does not match this database"), "\(wrong.stderr)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.customer_keys").single("n").int("n") == keysBefore)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }.isEmpty)
        let status = try LetheProcess.run(["keys", "status", "--json"] + common)
        #expect(status.status == 0 && status.stdout.contains("\"dataKeys\" : 2"))
        #expect(try LetheProcess.run(["encrypt", "verify"] + common).status == 0)
        let refused = try LetheProcess.run(["customer", "shred", "--customer", "1", "--database-url", db.conninfo])
        #expect(refused.status == 64)
        #expect(try db.connection.query("SELECT count(recipient_bidx) AS n FROM sms.messages WHERE customer_id = 1").single("n").int("n") > 0)
        let shred = try LetheProcess.run(["customer", "shred", "--customer", "1", "--yes", "--database-url", db.conninfo])
        #expect(shred.status == 0 && shred.stdout.contains("blind-index value(s) removed"))
        // The blind indexes go with the keys: short keyed hashes of numbers could be brute-forced back (issue 16, item 4).
        #expect(try db.connection.query("SELECT count(recipient_bidx) AS n FROM sms.messages WHERE customer_id = 1").single("n").int("n") == 0)
        #expect(try db.connection.query("SELECT count(recipient_bidx) AS n FROM sms.messages WHERE customer_id = 2").single("n").int("n") > 0)
        #expect(try LetheProcess.run(["inspect", "--table", "sms.messages", "--database-url", db.conninfo]).stdout.contains("MISSING_BLIND_INDEX") == false)
        // ...while one missing beside a live customer's number is found (the finding is not merely absent).
        let kept = try db.connection.query("SELECT id, recipient_bidx FROM sms.messages WHERE customer_id = 2 ORDER BY id LIMIT 1").single("message")
        try db.connection.execute("UPDATE sms.messages SET recipient_bidx = NULL WHERE id = $1", [.int(try kept.int("id"))])
        let missing = try LetheProcess.run(["inspect", "--table", "sms.messages", "--database-url", db.conninfo])
        #expect(missing.status == 1 && missing.stdout.contains("MISSING_BLIND_INDEX sms.messages.recipient_bidx"), "\(missing.stdout)")
        try db.connection.execute("UPDATE sms.messages SET recipient_bidx = $2 WHERE id = $1", [.int(try kept.int("id")), .bytes(try kept.bytes("recipient_bidx"))])
        let afterShred = try LetheProcess.run(["encrypt", "verify"] + common)
        #expect(afterShred.status == 79 && afterShred.stderr.contains("was shredded"))
        #expect(try LetheProcess.run(["encrypt", "verify", "--customer", "2"] + common).status == 0)
    }

    func openssl(_ arguments: [String], input: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return output
    }
}

extension Data {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self.init(bytes)
    }
}
