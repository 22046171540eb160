import Foundation
import LetheCore
import Policy
import Postgres
import Schema

/// What each import kind stores, and where: the policy says which fields are required and allowed,
/// this says which column each known field fills.
public enum IntakeKind: String, CaseIterable, Sendable {
    case messages, contacts

    /// Field -> personal column, for the fields lethe knows how to store.
    var personalColumns: [String: String] {
        switch self {
        case .messages: ["phone": "recipient", "message": "body"]
        case .contacts: ["phone": "phone", "name": "name"]
        }
    }

    /// Fields that are not sealed: the message's send time.
    var plainFields: Set<String> {
        switch self {
        case .messages: ["sent_at"]
        case .contacts: []
        }
    }
}

/// The policy table an import kind writes to, checked against what lethe can store.
struct IntakeTarget {
    let kind: IntakeKind
    let table: TablePolicy
    let intake: IntakePolicy
    let phoneColumn: SQLIdentifier
    let phoneIndexColumn: SQLIdentifier?
    let timestampColumn: SQLIdentifier
    let customerColumn: SQLIdentifier

    init(kind: IntakeKind, policy: RetentionPolicy) throws {
        guard let table = policy.tables.first(where: { $0.intake?.name == kind.rawValue }), let intake = table.intake else {
            throw LetheError.config("\(policy.source) has no table with 'intake: {name: \(kind.rawValue)}'",
                                    hint: "add an intake section to the table that receives \(kind.rawValue)")
        }
        for field in intake.required + intake.allowed where kind.personalColumns[field] == nil && !kind.plainFields.contains(field) {
            throw LetheError.config("\(policy.source): intake field '\(field)' of \(table.name) is not one lethe can store for \(kind.rawValue)",
                                    hint: "known fields: \((Array(kind.personalColumns.keys) + kind.plainFields).sorted().joined(separator: ", "))")
        }
        for (field, column) in kind.personalColumns where (intake.required + intake.allowed).contains(field) {
            guard table.personalColumns.contains(where: { $0.name == column }) else {
                throw LetheError.config("\(policy.source): \(table.name).\(column) (field '\(field)') must be listed under personal")
            }
        }
        guard let timestamp = table.timestampColumn, let customer = table.customerColumn,
              let phone = kind.personalColumns["phone"].flatMap({ name in table.personalColumns.first { $0.name == name } }) else {
            throw LetheError.config("\(policy.source): \(table.name) needs timestamp, customer and a personal phone column for \(kind.rawValue)")
        }
        self.kind = kind
        self.table = table
        self.intake = intake
        self.phoneColumn = phone
        self.phoneIndexColumn = table.blindIndexes[phone]
        self.timestampColumn = timestamp
        self.customerColumn = customer
        knownFieldNames = Set(policy.tables.compactMap(\.intake).flatMap { $0.required + $0.allowed })
    }

    var allowedFields: Set<String> { Set(intake.required + intake.allowed) }
    /// Field names some intake of the policy knows: a header cell may be echoed only if it is one of these or a
    /// common personal-data field name (`CommonFieldNames`); anything else may be a value from a headerless file.
    let knownFieldNames: Set<String>

    func mayEcho(_ headerCell: String) -> Bool {
        knownFieldNames.contains(headerCell) || CommonFieldNames.all.contains(headerCell.lowercased())
    }
}

/// Field names exports from other systems commonly carry for personal data: echoed as "unknown field 'email'",
/// so that the refusal teaches which column to drop. Every other unknown header cell is reported by position.
enum CommonFieldNames {
    static let all: Set<String> = [
        "email", "e_mail", "mail", "first_name", "firstname", "last_name", "lastname", "surname", "full_name", "fullname",
        "address", "street", "city", "zip", "postcode", "postal_code", "country", "birthdate", "birthday", "date_of_birth",
        "dob", "age", "gender", "sex", "ssn", "national_id", "passport", "iban", "card_number", "ip", "ip_address",
        "company", "title", "notes", "comment", "user_id", "username", "password", "id", "created_at", "updated_at",
        "mobile", "msisdn", "telephone", "tel", "number", "recipient", "sender", "text", "content",
    ]
}

extension IntakeTarget {
    /// For one customer's rows: the database clock (the time of rows without `sent_at`), and the window a row's time
    /// must fall in, from the customer's retention cutoff to now. The customer must exist.
    func window(customer: Int64, db: PostgresConnection, policy: RetentionPolicy) throws -> (clock: DatabaseClock, now: Date, earliest: Date) {
        try CustomerDirectory(db, policy: policy).requireExists(customer)
        let clock = try DatabaseClock.read(db)
        let cutoff = try CustomerCutoff.at(clock.text, tableRetention: table.retention ?? .ceiling, customer: customer, db: db)
        guard let now = PostgresTimestamp.parse(clock.text), let earliest = PostgresTimestamp.parse(cutoff) else {
            throw LetheError.software("unreadable database clock")
        }
        return (clock, now, earliest)
    }
}
