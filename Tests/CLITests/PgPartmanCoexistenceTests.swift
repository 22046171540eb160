import Foundation
import Testing
import TestSupport

/// Lethe beside a real pg_partman (Debian's postgresql-15-partman), with a policy that says nothing about
/// partitions (issue 29): Lethe makes none of the partitions pg_partman manages, and says when pg_partman's own
/// retention would keep personal data where no purge reaches it.
@Suite struct PgPartmanCoexistenceTests {
    /// The default policy without any `partitioning:` key, as a new user writes it.
    static func policyWithoutPartitioning(in directory: String) throws -> String {
        let text = try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("partitioning:") }.joined(separator: "\n")
        let path = directory + "/policy.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func partitionCount(_ db: TestDatabase, _ table: String) throws -> Int64 {
        try db.connection.query("SELECT count(*) AS n FROM pg_inherits WHERE inhparent = $1::regclass", [.text(table)]).single("n").int("n")
    }

    @Test func aTablePgPartmanManagesGetsNoPartitionOfLethesAndItsKeptTablesAreFound() throws {
        let db = try TestDatabase()
        try db.connection.executeScript("""
            CREATE SCHEMA partman;
            CREATE EXTENSION pg_partman SCHEMA partman;
            SELECT partman.create_parent('sms.messages', 'created_at', 'native', 'daily', p_premake := 4,
                                         p_start_partition := (now() - interval '10 days')::date::text);
            UPDATE partman.part_config SET retention = '7 months' WHERE parent_table = 'sms.messages';
            """)
        let directory = try IntakeFixture.directory(prefix: "lethe-partman")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let policy = try Self.policyWithoutPartitioning(in: directory)
        let common = ["--policy", policy, "--database-url", db.conninfo]
        let before = try partitionCount(db, "sms.messages")

        let ensure = try LetheProcess.run(["partitions", "ensure"] + common)
        #expect(ensure.status == 0, "\(ensure.stderr)")
        #expect(ensure.stdout.contains("sms.messages: pg_partman manages its partitions"), "\(ensure.stdout)")
        #expect(try partitionCount(db, "sms.messages") == before, "Lethe made no partition of a table pg_partman manages")
        #expect(try partitionCount(db, "sms.delivery_reports") > 0, "a table pg_partman does not manage still gets Lethe's partitions")
        // pg_partman goes on premaking, with no overlap in its way.
        try db.connection.execute("SELECT partman.run_maintenance('sms.messages')")

        let check = try LetheProcess.run(["policy", "check", policy, "--database-url", db.conninfo])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stderr.contains("retention_keep_table = true") && check.stderr.contains("longer than the policy's P6M") && check.stderr.contains("HINT:"),
                "\(check.stderr)")
        #expect(check.stderr.contains("partitioning: { create: false }"), "\(check.stderr)")

        // What pg_partman's default retention leaves behind: an expired partition detached and kept as a table.
        try db.connection.executeScript("""
            CREATE TABLE sms.messages_p2020_01_01 (LIKE sms.messages);
            INSERT INTO sms.messages_p2020_01_01 (id, customer_id, created_at, recipient, body) VALUES (1, 1, '2020-01-01', decode('00', 'hex'), decode('00', 'hex'));
            """)
        let inspect = try LetheProcess.run(["inspect", "--json"] + common)
        #expect(inspect.status == 1, "\(inspect.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        let findings = report["findings"] as? [[String: Any]] ?? []
        let kept = findings.first { $0["kind"] as? String == "partman_kept_table" }
        #expect(kept?["subject"] as? String == "sms.messages_p2020_01_01" && kept?["rows"] as? Int == 1, "\(findings)")
        #expect(findings.contains { $0["kind"] as? String == "partman_retention" && $0["subject"] as? String == "sms.messages" })
        #expect(!findings.contains { $0["kind"] as? String == "undeclared_table" && $0["subject"] as? String == "sms.messages_p2020_01_01" },
                "reported once, as what it is")

        // Set as the hints say, pg_partman's retention is quiet.
        try db.connection.execute("UPDATE partman.part_config SET retention = '5 months', retention_keep_table = false WHERE parent_table = 'sms.messages'")
        let fixed = try LetheProcess.run(["policy", "check", policy, "--database-url", db.conninfo])
        #expect(fixed.status == 0 && !fixed.stderr.contains("retention_keep_table") && !fixed.stderr.contains("longer than"), "\(fixed.stderr)")
    }
}
