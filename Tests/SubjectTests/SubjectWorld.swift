import Foundation
import Intake
import Keys
import LetheCore
import Phone
import Policy
import Postgres
import TestSupport

/// Known people across three customers, imported through Lethe (sealed, blind-indexed) with a delivery report
/// per message:
/// - Alice is messaged by customers 1 and 2, and is in customer 1's contacts;
/// - Bob is only in customer 3's contacts;
/// - Carol is messaged by customer 3 and is in customer 2's contacts.
final class SubjectWorld {
    struct Person {
        let national: String
        let e164: String
        let words: [String]
    }

    static let alice = Person(national: "06 12 34 56 78", e164: "+33612345678", words: ["Mercier", "Zanzibar", "Alice Lavande"])
    static let bob = Person(national: "07 98 76 54 32", e164: "+33798765432", words: ["Bob Pelican"])
    static let carol = Person(national: "06 55 44 33 22", e164: "+33655443322", words: ["Opaline", "Carol Ambre"])

    let db: TestDatabase
    let policy: RetentionPolicy
    let keyring: Keyring
    let directory: String

    init(policy: RetentionPolicy? = nil) throws {
        db = try TestDatabase()
        self.policy = try policy ?? PolicyFixture.monthlyPolicy()
        directory = try IntakeFixture.directory()
        keyring = try Keyring.create(at: directory + "/keyring")
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet Mercier'), (2, 'Relais Colis'), (3, 'Atelier Trois')")
        try db.connection.execute("INSERT INTO sms.templates (customer_id, name, body) VALUES (1, 'rappel', 'Rappel de rendez-vous')")
    }

    static func standard() throws -> SubjectWorld {
        let world = try SubjectWorld()
        try world.importMessages(customer: 1, [(alice.national, "Rendez-vous mardi chez Dr Mercier"), (carol.national, "Bonjour")])
        try world.importMessages(customer: 2, [(alice.e164, "Votre colis Zanzibar est arrivé")])
        try world.importMessages(customer: 3, [(carol.national, "Rappel Opaline")])
        try world.importContacts(customer: 1, [(alice.national, "Alice Lavande")])
        try world.importContacts(customer: 2, [(carol.national, "Carol Ambre")])
        try world.importContacts(customer: 3, [(bob.national, "Bob Pelican")])
        try world.addDeliveryReports()
        return world
    }

    func importMessages(customer: Int64, _ rows: [(String, String)]) throws {
        let csv = "phone,message\n" + rows.map { "\"\($0.0)\",\"\($0.1)\"" }.joined(separator: "\n") + "\n"
        let file = try IntakeFixture.write(csv, name: "m-\(UUID().uuidString).csv", in: directory)
        _ = try Importer(policy: policy).run(kind: .messages, path: file, customer: customer, options: ImportOptions(), db: db.connection, keyring: keyring)
    }

    func importContacts(customer: Int64, _ rows: [(String, String)]) throws {
        let csv = "phone,name\n" + rows.map { "\"\($0.0)\",\"\($0.1)\"" }.joined(separator: "\n") + "\n"
        let file = try IntakeFixture.write(csv, name: "c-\(UUID().uuidString).csv", in: directory)
        _ = try Importer(policy: policy).run(kind: .contacts, path: file, customer: customer, options: ImportOptions(), db: db.connection, keyring: keyring)
    }

    /// One delivery report per message that has none yet.
    func addDeliveryReports() throws {
        try db.connection.execute("""
            INSERT INTO sms.delivery_reports (message_id, customer_id, status)
            SELECT m.id, m.customer_id, 'delivered' FROM sms.messages m
            WHERE NOT EXISTS (SELECT 1 FROM sms.delivery_reports d WHERE d.message_id = m.id)
            """)
    }

    /// Row ids per table of the rows about `person`, found by decrypting everything (the slow, obvious way).
    func rowsAbout(_ person: Person) throws -> [String: Set<Int64>] {
        let vault = try Vault(db: db.connection, keyring: keyring, blindIndexBits: policy.blindIndexBits)
        var found: [String: Set<Int64>] = ["sms.messages": [], "sms.contacts": [], "sms.delivery_reports": []]
        for (table, column) in [("sms.messages", "recipient"), ("sms.contacts", "phone")] {
            for row in try db.connection.query("SELECT id, customer_id, \(column) AS v FROM \(table)").rows {
                let plain = try vault.open(row.bytes("v"), EnvelopeContext(table: table, column: column, customer: row.int("customer_id")), row: row.int("id"))
                if String(decoding: plain, as: UTF8.self) == person.e164 { found[table]!.insert(try row.int("id")) }
            }
        }
        let messages = found["sms.messages"]!.map(String.init).joined(separator: ",")
        if !messages.isEmpty {
            found["sms.delivery_reports"] = Set(try db.connection.query("SELECT id FROM sms.delivery_reports WHERE message_id IN (\(messages))").rows.map { try $0.int("id") })
        }
        return found
    }

    /// Row ids per table in an export file.
    static func rowsIn(exportFile path: String) throws -> [String: Set<Int64>] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var found: [String: Set<Int64>] = ["sms.messages": [], "sms.contacts": [], "sms.delivery_reports": []]
        for row in object["rows"] as! [[String: Any]] {
            found[row["table"] as! String, default: []].insert((row["row_id"] as! NSNumber).int64Value)
        }
        return found
    }

    func phone(_ person: Person) throws -> PhoneNumber { try PhoneNumber(parsing: person.national, defaultRegion: "FR") }
}
