import Foundation
import Postgres
import TestSupport
import Testing

/// The README's exit-code table is the binary's, and every code comes out of a real situation through the
/// binary, with stderr ending on a HINT line.
@Suite struct ExitCodePromiseTests {
    /// The rows of the README's "Exit codes" table, as Markdown.
    static func readmeTable() throws -> String {
        let readme = try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "| code | meaning |"))
        let rest = readme[start.lowerBound...]
        let end = rest.range(of: "\n\n")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }

    @Test func theReadmeTableIsTheBinarys() throws {
        let markdown = try LetheProcess.run(["exit-codes", "--markdown"])
        #expect(markdown.status == 0)
        #expect(markdown.stdout.trimmingCharacters(in: .newlines) == (try Self.readmeTable()))
        let plain = try LetheProcess.run(["exit-codes"])
        for code in [0, 1, 64, 65, 66, 69, 70, 73, 74, 75, 77, 78, 79, 80] { #expect(plain.stdout.contains("\n\(code) ")) }
    }

    func expect(_ outcome: LetheProcess.Outcome, _ code: Int32, _ situation: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(outcome.status == code, "\(situation): exit \(outcome.status): \(outcome.stderr)", sourceLocation: sourceLocation)
        guard code != 0 else { return }
        let last = outcome.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(outcome.stderr.hasSuffix("\n") && last.hasPrefix("HINT: ") && last.count > 12,
                "\(situation): stderr does not end with a hint: \(outcome.stderr)", sourceLocation: sourceLocation)
    }

    @Test func everyCodeFromARealSituation() throws {
        let db = try TestDatabase()
        let url = ["--database-url", db.conninfo]
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        try PurgeFixture.load(db.connection)

        expect(try LetheProcess.run(["exit-codes"]), 0, "listing the codes")
        expect(try LetheProcess.run(["purge", "--no-such-flag"]), 64, "an unknown option")

        let tooLong = try IntakeFixture.write(
            try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "retention: P6M", with: "retention: P7M"), name: "long.yaml", in: directory)
        expect(try LetheProcess.run(["policy", "check", "--policy", tooLong]), 65, "a retention above the ceiling")
        expect(try LetheProcess.run(["validate", "messages", directory + "/no-such.csv"]), 66, "a missing input file")
        expect(try LetheProcess.run(["status", "--database-url", "host=127.0.0.1 port=1 connect_timeout=2"]), 69, "an unreachable database")
        expect(try LetheProcess.run(["validate", "messages", "/proc/self/mem", "--format", "csv"]), 74, "a read that fails with EIO")

        expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]), 0, "a new keyring")
        expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]), 73, "a keyring that already exists")
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        expect(try LetheProcess.run(["import", "messages", file, "--customer", "1", "--keyring", keyring] + url), 0, "an import")
        let other = directory + "/other-keyring"
        expect(try LetheProcess.run(["keys", "init", "--keyring", other]), 0, "a second keyring")
        expect(try LetheProcess.run(["import", "messages", file, "--customer", "1", "--keyring", other] + url), 78, "a keyring that is not this database's")
        chmod(keyring, 0o644)
        expect(try LetheProcess.run(["import", "messages", file, "--customer", "1", "--keyring", keyring] + url), 77, "a keyring others can read")
        chmod(keyring, 0o600)

        // 75: another purge holds the lock.
        let holder = try db.newConnection()
        try holder.advisoryLock(.purge)
        expect(try LetheProcess.run(["purge"] + url), 75, "a purge while another runs")
        try holder.advisoryUnlock(.purge)

        // 79: an altered audit record.
        expect(try LetheProcess.run(["hold", "add", "--customer", "3", "--reason", "case 9"] + url), 0, "a hold")
        expect(try LetheProcess.run(["subject", "erase", "--phone", IntakeFixture.people[0].e164, "--keyring", keyring] + url), 0,
               "an erasure of a person with rows of an unheld customer")
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (4, 'Held Later') ON CONFLICT DO NOTHING")
        let heldFile = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "h.csv", in: directory)
        expect(try LetheProcess.run(["import", "messages", heldFile, "--customer", "3", "--keyring", keyring] + url), 0, "rows of the held customer")
        expect(try LetheProcess.run(["subject", "erase", "--phone", IntakeFixture.people[1].e164, "--keyring", keyring] + url), 80,
               "an erasure that a legal hold covers")

        // 1: a trigger keeps some old rows, so the purge's final check fails.
        try db.connection.execute("""
            CREATE FUNCTION public.keep_some() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF OLD.id % 2 = 0 THEN RETURN NULL; END IF; RETURN OLD; END $$
            """)
        try db.connection.execute("CREATE TRIGGER keep_some BEFORE DELETE ON sms.contacts FOR EACH ROW EXECUTE FUNCTION public.keep_some()")
        expect(try LetheProcess.run(["purge"] + url), 1, "a purge whose final check fails")

        try db.connection.execute("UPDATE lethe.audit_log SET target = 'customer 2' WHERE id = 1")
        expect(try LetheProcess.run(["audit", "verify"] + url), 79, "an altered audit record")
    }
}
