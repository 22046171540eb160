import Audit
import Foundation
import LetheCore
import Postgres
import TestSupport
import Testing

@Suite struct AuditLogTests {
    @Test func chainVerifiesAndDetectsEditsDeletionsAndReordering() throws {
        let db = try TestDatabase()
        for index in 1...5 {
            try AuditLog.append(db.connection, action: "test.event", target: "customer \(index)", details: ["n": .int(Int64(index)), "ok": .bool(true)])
        }
        let intact = try AuditLog.verify(db.connection)
        #expect(intact.isIntact && intact.records == 5 && intact.lastHash?.count == 64)
        #expect(try AuditLog.recent(db.connection, limit: 2, action: "test").map(\.target) == ["customer 5", "customer 4"])

        try db.connection.execute("UPDATE lethe.audit_log SET details = '{\"n\": 9}' WHERE id = 3")
        let edited = try AuditLog.verify(db.connection)
        #expect(edited.brokenAt == 3 && edited.problem?.contains("altered") == true)

        let other = try TestDatabase()
        for index in 1...4 { try AuditLog.append(other.connection, action: "test.event", target: "customer \(index)") }
        try other.connection.execute("DELETE FROM lethe.audit_log WHERE id = 2")
        let deleted = try AuditLog.verify(other.connection)
        #expect(deleted.brokenAt == 3 && deleted.problem?.contains("removed") == true)

        // Reordered: records 2 and 3 exchange places (every column but the id), so the log reads 1, 3, 2, 4.
        let reordered = try TestDatabase()
        for index in 1...4 { try AuditLog.append(reordered.connection, action: "test.event", target: "customer \(index)") }
        try reordered.connection.execute("""
            UPDATE lethe.audit_log a SET at = b.at, action = b.action, target = b.target, details = b.details, hash = b.hash, prev_hash = b.prev_hash
            FROM lethe.audit_log b WHERE (a.id, b.id) IN ((2, 3), (3, 2))
            """)
        let swapped = try AuditLog.verify(reordered.connection)
        #expect(swapped.brokenAt == 2, "\(swapped)")

        // The last record deleted: the chain alone still links, the head kept outside does not.
        let cut = try TestDatabase()
        for index in 1...4 { try AuditLog.append(cut.connection, action: "test.event", target: "customer \(index)") }
        let head = AuditLog.Head(id: 4, hash: try #require(try AuditLog.verify(cut.connection).lastHash))
        try cut.connection.execute("DELETE FROM lethe.audit_log WHERE id = 4")
        #expect(try AuditLog.verify(cut.connection).isIntact, "a tail cut leaves a linked chain")
        let anchored = try AuditLog.verify(cut.connection, head: head)
        #expect(anchored.brokenAt == 4 && anchored.problem?.contains("removed from its end") == true, "\(anchored)")
        #expect(try AuditLog.verify(reordered.connection, head: head).isIntact == false)
    }

    /// Whoever can write the table can edit a record and recompute every later hash: the chain passes again.
    /// Only a head kept outside the database (a job's log line) shows it.
    @Test func rewrittenHistoryIsCaughtByAHeadKeptOutside() throws {
        let db = try TestDatabase()
        for index in 1...5 { try AuditLog.append(db.connection, action: "test.event", target: "customer \(index)") }
        let head = try #require(try AuditLog.head(db.connection))
        #expect(head.id == 5 && AuditLog.Head(parsing: head.description) == head)
        try db.connection.execute("UPDATE lethe.audit_log SET target = 'customer 99' WHERE id = 2")
        #expect(try AuditLog.verify(db.connection).brokenAt == 2)
        try db.connection.execute("""
            DO $$
            DECLARE r record; prev text;
            BEGIN
                SELECT hash INTO prev FROM lethe.audit_log WHERE id = 1;
                FOR r IN SELECT * FROM lethe.audit_log WHERE id >= 2 ORDER BY id LOOP
                    UPDATE lethe.audit_log SET prev_hash = prev,
                           hash = lethe.audit_digest(prev, r.id, r.at, r.action, r.target, r.db_user, r.os_user, r.details)
                    WHERE id = r.id RETURNING hash INTO prev;
                END LOOP;
            END $$
            """)
        #expect(try AuditLog.verify(db.connection).isIntact, "a recomputed chain passes on its own")
        let anchored = try AuditLog.verify(db.connection, head: head)
        #expect(anchored.brokenAt == 5 && anchored.problem?.contains("rewritten") == true, "\(anchored)")
        #expect(AuditLog.Head(parsing: "5:xyz") == nil && AuditLog.Head(parsing: "0:" + head.hash) == nil)
    }

    @Test func recordsCommitOrRollBackWithTheirWork() throws {
        let db = try TestDatabase()
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try db.connection.transaction {
                try AuditLog.append(db.connection, action: "test.rolled_back", target: "nothing")
                throw Abort()
            }
        }
        #expect(try AuditLog.verify(db.connection).records == 0)
        #expect(AuditValue.object(["b": .string("x"), "a": .array([.int(1), .null])]).json == #"{"a":[1,null],"b":"x"}"#)
    }
}
