import Access
import Policy
import Foundation
import Testing

/// What each duty is granted, from the policy alone: the worker never deletes or writes a register of decisions,
/// the auditor never reads application data, and nobody but the owner writes the audit log.
@Suite struct DutyPrivilegesTests {
    static func policy() throws -> RetentionPolicy {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try PolicyLoader.load(path: root.appendingPathComponent("Policies/default.yaml").path)
    }

    @Test func theWorkerReadsAndCallsGuardedFunctionsButDeletesNothing() throws {
        let privileges = Duty.worker.privileges(policy: try Self.policy())
        #expect(!privileges.contains { $0.privilege == "DELETE" || $0.privilege == "TRUNCATE" || $0.privilege == "TRIGGER" })
        #expect(!privileges.contains { $0.privilege != "SELECT" && ["lethe.legal_holds", "lethe.retention_overrides", "lethe.customer_keys"].contains($0.object) })
        #expect(!privileges.contains { $0.object == "lethe.audit_log" && $0.privilege != "SELECT" })
        #expect(privileges.contains { $0.kind == .function && $0.object.hasPrefix("lethe.purge_drop_partition(") })
        #expect(privileges.contains { $0.kind == .table && $0.object == "sms.messages" && $0.privilege == "SELECT" })
    }

    @Test func theAuditorReadsNoApplicationTable() throws {
        let policy = try Self.policy()
        let privileges = Duty.auditor.privileges(policy: policy)
        let application = Set(policy.tables.map(\.name.description))
        #expect(!privileges.contains { application.contains($0.object) }, "\(privileges.filter { application.contains($0.object) })")
        #expect(privileges.allSatisfy { $0.kind != .table || $0.privilege == "SELECT" }, "the auditor only reads")
    }

    @Test func theDPOChangesItsRegistersOnlyThroughFunctions() throws {
        let privileges = Duty.dpo.privileges(policy: try Self.policy())
        for register in ["lethe.legal_holds", "lethe.retention_overrides", "lethe.requests", "lethe.tombstones", "lethe.customer_keys"] {
            #expect(privileges.filter { $0.object == register }.map(\.privilege) == ["SELECT"], "\(register)")
        }
        #expect(privileges.contains { $0.object.hasPrefix("lethe.hold_place(") && $0.privilege == "EXECUTE" })
    }

    @Test func everyDutyIsALetheRoleWithASummary() {
        for duty in Duty.allCases {
            #expect(duty.role == "lethe_" + duty.rawValue)
            #expect(!duty.summary.isEmpty)
        }
    }
}
