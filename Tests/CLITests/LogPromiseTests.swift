import Foundation
import Postgres
import TestSupport
import Testing

/// No personal value reaches stdout or stderr, in any form, from any command that handles personal data, even
/// verbose; and every stderr line in JSON mode is an ECS object. Dry runs change nothing.
@Suite struct LogPromiseTests {
    /// Every form a number or a word could take in output.
    static let forbidden: [String] = IntakeFixture.people.flatMap { person -> [String] in
        let compact = person.national.replacingOccurrences(of: " ", with: "")
        return [person.e164, person.national, compact, person.digits, String(person.e164.dropFirst())]
    } + ["Mercier", "Zanzibar", "Pelican", "884213", "Lavande", "Camille Ormeau", "Ormeau"]

    func check(_ outcome: LetheProcess.Outcome, _ command: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let all = outcome.stdout + outcome.stderr
        for value in Self.forbidden where all.contains(value) {
            Issue.record("\(command) printed a personal value (\(value.count) characters)", sourceLocation: sourceLocation)
        }
        for line in outcome.stderr.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                Issue.record("\(command): a stderr line is not JSON: \(line.prefix(120))", sourceLocation: sourceLocation)
                continue
            }
            for field in ["@timestamp", "log.level", "message", "ecs.version"] where object[field] == nil {
                Issue.record("\(command): a log line lacks \(field)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func verboseJSONRunsOfEveryPersonalDataCommandPrintNoPersonalValue() throws {
        let db = try TestDatabase()
        try PurgeFixture.ensurePartitions(db.connection, monthsBack: 8)
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais')")
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let json = ["-v", "--log-format", "json"]
        let common = ["--database-url", db.conninfo, "--keyring", keyring] + json
        let repo = ["--repo", directory + "/repo"]
        func run(_ arguments: [String], stdin: String? = nil, expecting status: Int32 = 0) throws {
            let outcome = try LetheProcess.run(arguments, stdin: stdin)
            #expect(outcome.status == status, "\(arguments.prefix(2)): \(outcome.stderr.suffix(400))")
            check(outcome, arguments.prefix(2).joined(separator: " "))
        }

        let messages = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        let contacts = try IntakeFixture.write("phone,name\n\"\(IntakeFixture.people[0].national)\",Camille Ormeau\n\(IntakeFixture.people[2].e164),Lavande\n",
                                               name: "c.csv", in: directory)
        let invalid = try IntakeFixture.write("phone,message\n\(IntakeFixture.people[1].digits)99999,Zanzibar\n", name: "bad.csv", in: directory)
        try run(["validate", "messages", messages] + json)
        try run(["validate", "messages", invalid] + json, expecting: 65)
        try run(["import", "messages", messages, "--customer", "1"] + common)
        try run(["import", "contacts", contacts, "--customer", "2"] + common)
        try run(["import", "messages", invalid, "--customer", "1"] + common, expecting: 65)

        // Plaintext left by the platform, then sealed by encrypt migrate.
        try db.connection.execute("""
            INSERT INTO sms.contacts (customer_id, phone, name) VALUES (1, convert_to($1, 'UTF8'), convert_to('Camille Ormeau', 'UTF8'))
            """, [.text(IntakeFixture.people[1].e164)])
        try run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "phone", "--from", "plaintext", "--dry-run"] + common)
        try run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "phone", "--from", "plaintext"] + common)
        try run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "name", "--from", "plaintext"] + common)

        try run(["requests", "open", "--kind", "access", "--reference", "R-1", "--database-url", db.conninfo] + json)
        try run(["subject", "export", "--phone", "-", "--request", "1", "--out", directory + "/export"] + common, stdin: IntakeFixture.people[0].national + "\n")
        try run(["customer", "export", "--customer", "2", "--out", directory + "/portability"] + common)
        try run(["backup"] + common + repo)
        let id = try #require(try FileManager.default.contentsOfDirectory(atPath: directory + "/repo").first { $0.hasSuffix(".lethe-backup") })
            .replacingOccurrences(of: ".lethe-backup", with: "")
        try run(["subject", "erase", "--phone", IntakeFixture.people[0].e164, "--dry-run"] + common)
        try run(["subject", "erase", "--phone", IntakeFixture.people[0].e164] + common)
        try run(["subject", "erase", "--phone", "+33 6 00"] + common, expecting: 65)
        let target = try TestDatabase(migrated: false)
        try run(["restore", id, "--target-database", target.conninfo] + common + repo)
        try db.connection.execute("UPDATE sms.messages SET created_at = now() - interval '200 days' WHERE id = (SELECT min(id) FROM sms.messages)")
        try run(["purge", "--dry-run", "--database-url", db.conninfo] + json)
        try run(["purge", "--database-url", db.conninfo] + json)

        // The worker's lines, its metrics file, and what the registers list (issue 34).
        let metrics = directory + "/lethe.prom"
        try run(["hold", "add", "--customer", "1", "--reason", "case 12", "--database-url", db.conninfo] + json)
        try run(["retention", "set", "--customer", "2", "--period", "P30D", "--reason", "clause 7", "--database-url", db.conninfo] + json)
        try run(["worker", "--once", "--metrics-file", metrics] + common + repo)
        let written = try String(contentsOfFile: metrics, encoding: .utf8)
        for value in Self.forbidden { #expect(!written.contains(value), "the metrics file holds a personal value (\(value.count) characters)") }
        for listing in [["audit", "list", "--limit", "200"], ["audit", "list", "--json"], ["hold", "list", "--all"], ["hold", "list", "--json"],
                        ["retention", "show"], ["retention", "show", "--json"], ["status"], ["requests", "list", "--json"]] {
            try run(listing + ["--database-url", db.conninfo] + json)
        }
    }

    /// Every command that changes keys, roles, data or backups leaves its own audit record, in an intact chain
    /// (issue 34: backup, roles apply, customer shred, keys rotate and reindex, import, encrypt migrate and the
    /// erasure replay had none checked).
    @Test func everyAdministrativeCommandLeavesItsAuditRecord() throws {
        let (db, directory, common) = try BackupFixture.commandLineSetUp(contacts: 50)
        _ = try LeastPrivilegeTests.clusterRoles.value()
        let url = ["--database-url", db.conninfo], keyed = ["--database-url", db.conninfo, "--keyring", directory + "/keyring"]
        let messages = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        let steps: [(arguments: [String], action: String)] = [
            (["import", "messages", messages, "--customer", "1"] + keyed, "import.messages"),
            (["encrypt", "migrate", "--table", "sms.contacts", "--column", "name", "--from", "plaintext"] + keyed, "encrypt.migrate"),
            (["backup"] + common, "backup"),
            (["roles", "apply"] + url, "roles.apply"),
            (["keys", "rotate"] + keyed, "keys.add"),
            (["keys", "rotate", "--rewrap"] + keyed, "keys.rotate"),
            (["keys", "reindex", "--bits", "24"] + keyed, "keys.reindex"),
            (["customer", "shred", "--customer", "2", "--yes"] + url, "customer.shred"),
        ]
        for step in steps {
            let before = try db.connection.query("SELECT count(*) AS n FROM lethe.audit_log WHERE action = $1", [.text(step.action)]).single("n").int("n")
            let outcome = try LetheProcess.run(step.arguments)
            #expect(outcome.status == 0, "\(step.arguments.prefix(3).joined(separator: " ")): \(outcome.stderr)")
            let after = try db.connection.query("SELECT count(*) AS n FROM lethe.audit_log WHERE action = $1", [.text(step.action)]).single("n").int("n")
            #expect(after == before + 1, "\(step.action): one record")
        }
        let verify = try LetheProcess.run(["audit", "verify"] + url)
        #expect(verify.status == 0, "\(verify.stderr)")
    }

    /// Table contents before and after: md5 over every row of every Lethe and application table.
    static func checksum(_ db: TestDatabase) throws -> [String: String] {
        var result: [String: String] = [:]
        for row in try db.connection.query("""
            SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('sms', 'lethe') AND c.relkind IN ('r', 'p') ORDER BY 1
            """).rows {
            let name = try row.string("name")
            let quoted = name.split(separator: ".").map { "\"\($0)\"" }.joined(separator: ".")
            result[name] = try db.connection.query("SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS sum FROM \(quoted) t")
                .single("sum").string("sum")
        }
        return result
    }

    @Test func importAndEncryptMigrateDryRunsChangeNothing() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet')")
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", keyring]
        let messages = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        #expect(try LetheProcess.run(["import", "messages", messages, "--customer", "1"] + common).status == 0)
        try db.connection.execute("INSERT INTO sms.contacts (customer_id, phone) VALUES (1, convert_to($1, 'UTF8'))", [.text(IntakeFixture.people[1].e164)])
        let before = try Self.checksum(db)
        let dryImport = try LetheProcess.run(["import", "messages", messages, "--customer", "1", "--dry-run"] + common)
        #expect(dryImport.status == 0, "\(dryImport.stderr)")
        let dryMigrate = try LetheProcess.run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "phone", "--from", "plaintext", "--dry-run"] + common)
        #expect(dryMigrate.status == 0, "\(dryMigrate.stderr)")
        #expect(try Self.checksum(db) == before)
        // The same without --dry-run does change them: the checksum can tell.
        #expect(try LetheProcess.run(["encrypt", "migrate", "--table", "sms.contacts", "--column", "phone", "--from", "plaintext"] + common).status == 0)
        #expect(try Self.checksum(db) != before)
    }
}
