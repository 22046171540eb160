import Audit
import Backup
import Foundation
import Keys
import LetheCrypto
import LetheCore
import Phone
import Policy
import Postgres
import Purge
import Subject
import TestSupport
import Testing

@Suite struct SubjectExportTests {
    @Test func exportHoldsExactlyThePersonsRowsAcrossCustomers() throws {
        let world = try SubjectWorld.standard()
        for person in [SubjectWorld.alice, SubjectWorld.bob, SubjectWorld.carol] {
            let out = world.directory + "/out-\(person.e164)"
            let report = try SubjectExport(db: world.db.connection, policy: world.policy, keyring: world.keyring)
                .run(number: try world.phone(person), directory: out, request: nil)
            let expected = try world.rowsAbout(person)
            let exported = try SubjectWorld.rowsIn(exportFile: report.files[0])
            #expect(exported == expected, "\(person.words[0])")
            #expect(report.totalRows == expected.values.map(\.count).reduce(0, +))
        }
        // Alice: two messages from two customers, their two reports, one contact.
        let alice = try world.rowsAbout(SubjectWorld.alice)
        #expect(alice["sms.messages"]!.count == 2 && alice["sms.delivery_reports"]!.count == 2 && alice["sms.contacts"]!.count == 1)
        // Bob: one contact only.
        let bob = try world.rowsAbout(SubjectWorld.bob)
        #expect(bob["sms.messages"]!.isEmpty && bob["sms.delivery_reports"]!.isEmpty && bob["sms.contacts"]!.count == 1)
    }

    @Test func exportFilesArePrivateAndCarryDecryptedFieldsAndTheCoverSheet() throws {
        let world = try SubjectWorld.standard()
        let register = RequestRegister(world.db.connection)
        let request = try register.open(kind: .access, reference: "DPO-7", received: nil)
        let out = world.directory + "/out"
        let report = try SubjectExport(db: world.db.connection, policy: world.policy, keyring: world.keyring)
            .run(number: try world.phone(SubjectWorld.alice), directory: out, request: request.id)
        #expect(report.files.map { ($0 as NSString).lastPathComponent } == ["subject-\(request.id).json", "subject-\(request.id).md"])
        for file in report.files {
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as! Int
            #expect(mode == 0o600, "\(file)")
        }
        let json = try String(contentsOfFile: report.files[0], encoding: .utf8)
        #expect(json.contains("Rendez-vous mardi chez Dr Mercier") && json.contains("Zanzibar") && json.contains("Alice Lavande"))
        #expect(json.contains(SubjectWorld.alice.e164))
        #expect(!json.contains("Opaline") && !json.contains("Pelican"), "nobody else's data")
        #expect(json.contains("\"deletion_due\"") && json.contains("+00:00"), "ISO-8601 UTC timestamps")
        let sheet = try String(contentsOfFile: report.files[1], encoding: .utf8)
        for text in [world.policy.dpo.source, world.policy.dpo.authority, world.policy.dpo.purposes[0], world.policy.dpo.recipients[0], "Sent SMS", "6 months"] {
            #expect(sheet.contains(text), "\(text)")
        }
        #expect(!sheet.contains(SubjectWorld.alice.e164) && !sheet.contains("Mercier"), "values stay in the JSON")
        // The request is closed by the export; a second answer to it is refused before any work.
        #expect(try register.list().first { $0.id == request.id }?.closedAt != nil)
        #expect(throws: LetheError.self) {
            try SubjectExport(db: world.db.connection, policy: world.policy, keyring: world.keyring)
                .run(number: try world.phone(SubjectWorld.alice), directory: out, request: request.id)
        }
        let audit = try AuditLog.recent(world.db.connection, limit: 10).map(\.action)
        #expect(audit.contains("subject.export") && audit.contains("request.close"))
        #expect(try AuditLog.verify(world.db.connection).brokenAt == nil)
    }

    /// With 8-bit blind indexes two numbers share an index; the other person's rows are candidates but are
    /// decrypted, found to be someone else, and left out.
    @Test func blindIndexCollisionDoesNotExportTheOtherPerson() throws {
        let yaml = try String(contentsOfFile: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path, encoding: .utf8)
        let policy = try PolicyLoader.parse(yaml: yaml.replacingOccurrences(of: "max_segments: 10", with: "max_segments: 10\nblind_index_bits: 8"),
                                            source: "collision.yaml")
        #expect(policy.blindIndexBits == 8)
        let world = try SubjectWorld(policy: policy)
        let index = try BlindIndex(key: try world.keyring.derivedKey(.blindIndex), bits: 8)
        var byTag: [[UInt8]: String] = [:]
        var pair: (String, String)?
        for n in 0..<10_000 where pair == nil {
            let candidate = String(format: "+336123%05d", n)
            let tag = try index.tag(try PhoneNumber(parsing: candidate, defaultRegion: "FR"))
            if let other = byTag[tag] { pair = (other, candidate) } else { byTag[tag] = candidate }
        }
        let (first, second) = try #require(pair)
        try world.importMessages(customer: 1, [(first, "Message pour Premier"), (second, "Message pour Second")])
        try world.importMessages(customer: 2, [(second, "Encore Second")])
        try world.addDeliveryReports()
        let report = try SubjectExport(db: world.db.connection, policy: world.policy, keyring: world.keyring)
            .run(number: try PhoneNumber(parsing: first, defaultRegion: "FR"), directory: world.directory + "/out", request: nil)
        #expect(report.totalRows == 2, "one message and its delivery report")
        #expect(report.collisionsDiscarded == 2, "both of the other number's messages were candidates")
        let json = try String(contentsOfFile: report.files[0], encoding: .utf8)
        #expect(json.contains("Premier") && !json.contains("Second") && !json.contains(second))
    }

    @Test func customerExportHoldsEveryTableOfThatCustomerOnly() throws {
        let world = try SubjectWorld.standard()
        let report = try CustomerExport(db: world.db.connection, policy: world.policy, keyring: world.keyring, batch: 1)
            .run(customer: 1, directory: world.directory + "/customer")
        #expect(report.rows == ["sms.customers": 1, "sms.contacts": 1, "sms.templates": 1, "sms.messages": 2, "sms.delivery_reports": 2])
        let mode = try FileManager.default.attributesOfItem(atPath: report.file)[.posixPermissions] as! Int
        #expect(mode == 0o600)
        let data = try Data(contentsOf: URL(fileURLWithPath: report.file))
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let tables = object["tables"] as! [String: [[String: Any]]]
        #expect(tables["sms.messages"]!.compactMap { $0["body"] as? String }.sorted() == ["Bonjour", "Rendez-vous mardi chez Dr Mercier"])
        #expect(tables["sms.contacts"]!.first?["name"] as? String == "Alice Lavande")
        #expect(!String(decoding: data, as: UTF8.self).contains("Zanzibar"), "customer 2's message")
        #expect(try SHA256.hex(Array(data)) == report.sha256)
        #expect(throws: LetheError.self) { try CustomerExport(db: world.db.connection, policy: world.policy, keyring: world.keyring).run(customer: 1, directory: world.directory + "/customer") }
    }
}
