import Foundation
import LetheCore
import Policy
import Testing

/// The package's default policy, as shipped.
func defaultPolicyText() throws -> String {
    var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
        directory.deleteLastPathComponent()
    }
    return try String(contentsOf: directory.appendingPathComponent("Policies/default.yaml"), encoding: .utf8)
}

private func problems(_ yaml: String) -> String? {
    do {
        _ = try PolicyLoader.parse(yaml: yaml, source: "x.yaml")
        return nil
    } catch {
        #expect(error.code == .dataError)
        return error.message
    }
}

@Suite struct PolicyLoaderTests {
    @Test func defaultPolicyIsValid() throws {
        let policy = try PolicyLoader.parse(yaml: try defaultPolicyText(), source: "Policies/default.yaml")
        #expect(policy.tables.map(\.name.description) == ["sms.customers", "sms.contacts", "sms.templates", "sms.messages", "sms.delivery_reports"])
        let messages = try #require(policy.table(named: "sms.messages"))
        #expect(messages.retention == .ceiling)
        #expect(messages.personalColumns.map(\.name) == ["recipient", "body"])
        #expect(messages.intake == IntakePolicy(name: "messages", required: ["phone", "message"], allowed: ["sent_at"]))
        #expect(messages.blindIndexes.count == 1)
        #expect(policy.retentionTables.count == 3)
        #expect(policy.tables.filter(\.backup).map(\.name.name.name) == ["customers", "contacts", "templates", "delivery_reports"])
        #expect(!policy.dpo.purposes.isEmpty && !policy.dpo.rights.isEmpty)
    }

    @Test func retentionAboveCeilingNamesLineAndPath() throws {
        let yaml = try defaultPolicyText().replacingOccurrences(of: "    retention: P6M\n    personal: [recipient, body]", with: "    retention: P7M\n    personal: [recipient, body]")
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        let line = try #require(lines.firstIndex { $0.contains("P7M") }) + 1
        #expect(problems(yaml) == "x.yaml:\(line): tables[3].retention: P7M exceeds the 6-month ceiling")
    }

    @Test func unknownKeyIsRefused() throws {
        let yaml = try defaultPolicyText().replacingOccurrences(of: "    backup: false\n", with: "    backup: false\n    keep_forever: true\n")
        let message = try #require(problems(yaml))
        #expect(message.contains("tables[3].keep_forever: unknown key"))
        #expect(message.hasPrefix("x.yaml:"))
    }

    @Test func unknownTopLevelKeyAndBadTypes() {
        let message = problems("""
            version: 1
            retention_override: P1Y
            tables:
              - table: sms.messages
                timestamp: created_at
                customer: customer_id
                personal: recipient
            dpo: {controller: a, contact: b, purposes: [c], recipients: [d], source: e, rights: f, authority: g}
            """) ?? ""
        #expect(message.contains("x.yaml:2: retention_override: unknown key"))
        #expect(message.contains("x.yaml:7: tables[0].personal: must be a list of column names"))
    }

    @Test func personalDataNeedsRetention() {
        let message = problems("""
            tables:
              - table: sms.notes
                customer: customer_id
                personal: [text]
            dpo: {controller: a, contact: b, purposes: [c], recipients: [d], source: e, rights: f, authority: g}
            """) ?? ""
        #expect(message.contains("tables[0].personal: a table holding personal columns needs a timestamp"))
    }

    @Test func backupKeepIsCapped() {
        let message = problems("""
            tables: []
            backup: {keep: P1Y}
            dpo: {controller: a, contact: b, purposes: [c], recipients: [d], source: e, rights: f, authority: g}
            """) ?? ""
        #expect(message == "x.yaml:2: backup.keep: P1Y exceeds the 6-month ceiling")
    }

    @Test func invalidIdentifiersAndYamlErrors() {
        #expect(problems("tables: [{table: \"sms.msg; drop\"}]\ndpo: {}")?.contains("invalid SQL identifier") == true)
        #expect(problems("tables: [")?.contains("not valid YAML") == true)
        #expect(problems("")?.contains("empty") == true)
    }
}
