import Audit
import Foundation
import Keys
import LetheCore
import Phone
import Policy
import Postgres
import Schema

/// A batch of rows from the platform's live API (`lethe serve`, `POST /v1/intake/{name}`): exactly the policy's
/// required and allowed fields, validated, normalised, encoded and segment-counted as `lethe import` does (the same
/// validator and encoder), row ids reserved, sealed, blind-indexed and written through COPY in one transaction. A bad
/// row refuses the whole batch, naming its index and field, never a value.
/// A class, one per database session: what does not change between batches (the target, its COPY format, its
/// sequence, the phone verdicts) is looked up once.
public final class BatchIntake {
    let policy: RetentionPolicy
    let db: PostgresConnection
    let vault: Vault
    private var prepared: [IntakeKind: (target: IntakeTarget, format: CopyFormat, sequence: String)] = [:]
    /// Thread-safe and bounded: one may serve every session of a process.
    private let phones: PhoneVerdictCache

    public init(policy: RetentionPolicy, db: PostgresConnection, vault: Vault, phones: PhoneVerdictCache? = nil) {
        self.policy = policy
        self.db = db
        self.vault = vault
        self.phones = phones ?? PhoneVerdictCache(defaultRegion: policy.defaultRegion, rules: policy.phoneRules)
    }

    private func prepare(_ kind: IntakeKind) throws -> (target: IntakeTarget, format: CopyFormat, sequence: String) {
        if let known = prepared[kind] { return known }
        let target = try IntakeTarget(kind: kind, policy: policy)
        let format = try CopyFormat.choose(for: target.table.name, columns: RowEncoder.columns(target), db: db)
        guard let sequence = try db.query("SELECT pg_get_serial_sequence(\(.text(target.table.name.description)), \(.text(target.table.idColumn.name))) AS s")
            .single("sequence").optionalString("s") else {
            throw LetheError.config("\(target.table.name).\(target.table.idColumn.name) does not draw from a sequence of its own", hint: "intake needs one to reserve row ids")
        }
        prepared[kind] = (target, format, sequence)
        return (target, format, sequence)
    }

    /// One refused row: its 0-based index in the batch, the field, and why (never the value).
    public struct RowProblem: Error, Sendable, Encodable, Equatable {
        public let index: Int
        public let field: String
        public let reason: String
    }

    public struct Written: Sendable, Encodable {
        public let id: Int64
        /// `gsm7` or `ucs2`, and the SMS segments, for messages.
        public let encoding: String?
        public let segments: Int?
    }

    /// Validates, seals and writes `rows` in one transaction, in which `alsoBeforeCommit` runs too (the service's
    /// usage count): the batch and its record commit together, with one synchronous commit.
    public func write(kind: IntakeKind, customer: Int64, rows: [[String: String]], alsoBeforeCommit: (PostgresConnection) throws -> Void = { _ in }) throws -> [Written] {
        let (target, format, sequence) = try prepare(kind)
        let (clock, now, earliest) = try target.window(customer: customer, db: db, policy: policy)
        let validator = RowValidator(kind: kind, maxSegments: policy.maxSegments, earliest: earliest, latest: now, phones: phones)
        var valid: [RowValidator.ValidRow] = []
        for (index, fields) in rows.enumerated() {
            for name in fields.keys.sorted() where !target.allowedFields.contains(name) {
                throw RowProblem(index: index, field: IntakeFileError.fieldName(name) ?? "(a key)", reason: "is not a field of the \(kind.rawValue) intake")
            }
            for name in target.intake.required where fields[name] == nil {
                throw RowProblem(index: index, field: name, reason: "missing")
            }
            var record = RecordFields()
            for (name, value) in fields { record.set(name, value) }
            switch validator.validate(InputRecord(line: index, fields: record)) {
            case .failure(let problem): throw RowProblem(index: index, field: problem.field, reason: problem.reason)
            case .success(let row): valid.append(row)
            }
        }
        guard !valid.isEmpty else { return [] }
        let encoder = RowEncoder(target: target, sealer: try vault.sealer(customer: customer), clock: clock, format: format)
        return try db.transaction {
            let ids = try db.query("SELECT nextval(\(.text(sequence))::regclass) AS id FROM generate_series(1, \(.int(Int64(valid.count))))").rows.map { try $0.int("id") }
            try db.copyIn(encoder.copyStatement) { writer in
                try writer.write(format.header)
                for (row, id) in zip(valid, ids) { try writer.write(try encoder.line(row, id: id)) }
                try writer.write(format.trailer)
            }
            try alsoBeforeCommit(db)
            return zip(valid, ids).map { row, id in
                Written(id: id, encoding: row.encoding.map { $0.alphabet == .gsm7 ? "gsm7" : "ucs2" }, segments: row.encoding?.segments)
            }
        }
    }
}
