import LetheCore
import Policy

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
    }

    var allowedFields: Set<String> { Set(intake.required + intake.allowed) }
}
