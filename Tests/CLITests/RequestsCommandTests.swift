import Foundation
import TestSupport
import Testing

@Suite struct RequestsCommandTests {
    @Test func checkFailsForARequestOpenedThirtyTwoDaysAgo() throws {
        let db = try TestDatabase()
        let received = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-32 * 86400))
        let opened = try LetheProcess.run(["requests", "open", "--kind", "erasure", "--reference", "DPO-2026-0114", "--received", received, "--database-url", db.conninfo])
        #expect(opened.status == 0 && opened.stdout.contains("request 1 (erasure) opened"))
        #expect(try LetheProcess.run(["requests", "open", "--kind", "access", "--reference", "DPO-2026-0115", "--database-url", db.conninfo]).status == 0)
        let check = try LetheProcess.run(["requests", "check", "--database-url", db.conninfo])
        #expect(check.status == 1)
        #expect(check.stdout.contains("1 request(s) overdue: 1"))
        #expect(check.stderr.contains("WARNING request past its due date"))
        let list = try LetheProcess.run(["requests", "list", "--database-url", db.conninfo])
        #expect(list.stdout.contains("OVERDUE"))
        #expect(try LetheProcess.run(["requests", "extend", "1", "--reason", "complex", "--database-url", db.conninfo]).status == 0)
        #expect(try LetheProcess.run(["requests", "check", "--database-url", db.conninfo]).status == 0)
        #expect(try LetheProcess.run(["requests", "close", "2", "--database-url", db.conninfo]).status == 0)
        #expect(try LetheProcess.run(["requests", "open", "--kind", "deletion", "--reference", "x", "--database-url", db.conninfo]).status == 64)
    }
}
