import Audit
import Foundation
import LetheCore
import Subject
import TestSupport
import Testing

@Suite struct RequestRegisterTests {
    @Test func deadlinesExtensionsAndClosing() throws {
        let db = try TestDatabase()
        let register = RequestRegister(db.connection)
        let received = Date().addingTimeInterval(-32 * 86400)
        let late = try register.open(kind: .erasure, reference: "DPO-1", received: received)
        #expect(late.overdue)
        let fresh = try register.open(kind: .access, reference: "DPO-2", received: nil)
        #expect(!fresh.overdue)
        #expect(try register.overdue().map(\.id) == [late.id])
        let extended = try register.extend(id: late.id, reason: "many requests this month")
        #expect(extended.extended && !extended.overdue)
        #expect(extended.dueAt.timeIntervalSince(received) > 85 * 86400)
        #expect(throws: LetheError.self) { try register.extend(id: late.id, reason: "again") }
        #expect(try register.overdue().isEmpty)
        let closed = try register.close(id: fresh.id)
        #expect(closed.closedAt != nil)
        #expect(throws: LetheError.self) { try register.close(id: fresh.id) }
        #expect(throws: LetheError.self) { try register.open(kind: .access, reference: " ", received: nil) }
        #expect(try AuditLog.verify(db.connection).records == 4, "two opens, one extension, one close; refused calls leave none")
    }
}
