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
public struct BatchIntake {
    let policy: RetentionPolicy
    let db: PostgresConnection
    let vault: Vault

    public init(policy: RetentionPolicy, db: PostgresConnection, vault: Vault) {
        self.policy = policy
        self.db = db
        self.vault = vault
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

    public func write(kind: IntakeKind, customer: Int64, rows: [[String: String]]) throws -> [Written] {
        let target = try IntakeTarget(kind: kind, policy: policy)
        let (clock, now, earliest) = try target.window(customer: customer, db: db, policy: policy)
        let validator = RowValidator(kind: kind, maxSegments: policy.maxSegments, earliest: earliest, latest: now,
                                     phones: PhoneVerdictCache(defaultRegion: policy.defaultRegion, rules: policy.phoneRules))
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
        let format = try CopyFormat.choose(for: target.table.name, columns: RowEncoder.columns(target), db: db)
        let encoder = RowEncoder(target: target, sealer: try vault.sealer(customer: customer), clock: clock, format: format)
        return try db.transaction {
            let ids = try reserveIds(target.table, count: valid.count)
            try db.copyIn(encoder.copyStatement) { writer in
                try writer.write(format.header)
                for (row, id) in zip(valid, ids) { try writer.write(try encoder.line(row, id: id)) }
                try writer.write(format.trailer)
            }
            return zip(valid, ids).map { row, id in
                Written(id: id, encoding: row.encoding.map { $0.alphabet == .gsm7 ? "gsm7" : "ucs2" }, segments: row.encoding?.segments)
            }
        }
    }

    /// `count` ids from the table's own sequence, in this session.
    private func reserveIds(_ table: TablePolicy, count: Int) throws -> [Int64] {
        guard let sequence = try db.query("SELECT pg_get_serial_sequence(\(.text(table.name.description)), \(.text(table.idColumn.name))) AS s")
            .single("sequence").optionalString("s") else {
            throw LetheError.config("\(table.name).\(table.idColumn.name) does not draw from a sequence of its own", hint: "intake needs one to reserve row ids")
        }
        return try db.query("SELECT nextval(\(.text(sequence))::regclass) AS id FROM generate_series(1, \(.int(Int64(count))))").rows.map { try $0.int("id") }
    }
}
