import Foundation
import Postgres
import TestSupport
import Testing

/// The audit chain's head leaves the database on every job's final log line; a head kept there catches a
/// history that was rewritten and re-chained, which the chain alone cannot.
@Suite struct AuditHeadTests {
    @Test func aJobsFinalLineCarriesTheHeadAndARewrittenChainFailsAgainstIt() throws {
        let db = try TestDatabase()
        try PurgeFixture.load(db.connection)
        #expect(try LetheProcess.run(["hold", "add", "--customer", "3", "--reason", "case 1", "--database-url", db.conninfo]).status == 0)
        let purge = try LetheProcess.run(["purge", "--log-format", "json", "--database-url", db.conninfo])
        #expect(purge.status == 0, "\(purge.stderr)")
        let last = try #require(purge.stderr.split(separator: "\n").last)
        let line = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "\(purge.stderr)")
        let headId = try #require(line["lethe.audit.head_id"] as? Int, "\(line)")
        let headHash = try #require(line["lethe.audit.head_hash"] as? String, "\(line)")
        #expect(line["event.action"] as? String == "purge" && line["event.outcome"] as? String == "success")
        #expect(try db.connection.query("SELECT hash FROM lethe.audit_log ORDER BY id DESC LIMIT 1").single("head").string("hash") == headHash)

        let head = "\(headId):\(headHash)"
        #expect(try LetheProcess.run(["audit", "verify", "--head", head, "--database-url", db.conninfo]).status == 0)
        // Whoever can write the table edits the hold record and recomputes every later hash.
        try db.connection.execute("UPDATE lethe.audit_log SET target = 'customer 4' WHERE id = (SELECT min(id) FROM lethe.audit_log)")
        try db.connection.execute("""
            DO $$
            DECLARE r record; prev text := repeat('0', 64);
            BEGIN
                FOR r IN SELECT * FROM lethe.audit_log ORDER BY id LOOP
                    UPDATE lethe.audit_log SET prev_hash = prev,
                           hash = lethe.audit_digest(prev, r.id, r.at, r.action, r.target, r.db_user, r.os_user, r.details)
                    WHERE id = r.id RETURNING hash INTO prev;
                END LOOP;
            END $$
            """)
        let alone = try LetheProcess.run(["audit", "verify", "--database-url", db.conninfo])
        #expect(alone.status == 0, "the re-chained log passes on its own: \(alone.stderr)")
        let anchored = try LetheProcess.run(["audit", "verify", "--head", head, "--database-url", db.conninfo])
        #expect(anchored.status == 79 && anchored.stderr.contains("rewritten"), "\(anchored.stderr)")
        #expect(try LetheProcess.run(["audit", "verify", "--head", "12:zz", "--database-url", db.conninfo]).status == 64)
    }
}
