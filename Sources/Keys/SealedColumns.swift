import LetheCore
import Policy
import Postgres
import Schema

/// Walks the sealed columns of the policy's tables in id order, in batches, for checks and migrations.
struct SealedColumnScan {
    let db: PostgresConnection
    let table: TablePolicy
    let column: SQLIdentifier
    let batch: Int
    /// Also read this column (the blind index kept beside a sealed phone number).
    var companion: SQLIdentifier? = nil

    struct Value {
        let id: Int64
        /// Nil for a row without a customer (a nullable customer column): no customer data key seals it.
        let customer: Int64?
        let bytes: [UInt8]
        /// The row's timestamp in PostgreSQL's exact text form, for tables partitioned on it: an update that names it
        /// is pruned to one partition instead of probing every partition's index.
        let timestamp: String?
        /// The companion column's value, when asked for.
        let companion: [UInt8]?
    }

    /// How the column stores envelopes (its type): values are read as bytes either way, and written in this form.
    func form() throws -> SealedColumnForm { try SealedColumnForm.load(db, table)[column] ?? .binary }

    /// Calls `body` with each batch of non-null values whose id is above the last one seen;
    /// `onlyUnsealed` skips values that already carry the envelope's magic and version.
    func forEachBatch(customer: Int64?, onlyUnsealed: Bool, _ body: ([Value]) throws -> Void) throws {
        guard let customerKey = CustomerKey.sql(table) else { return }
        let form = try form()
        // A row without an id would never be reached by the id-ordered walk, and a job would report success having
        // sealed or checked nothing (issue 30, defect 1: an unrelated, never-filled `id` column taken as row id).
        // The catalog answers for a NOT NULL id (a primary key); only a nullable one costs a scan.
        let nullable = try db.query("""
            SELECT NOT attnotnull AS nullable FROM pg_attribute WHERE attrelid = \(text: table.name.quoted)::regclass AND attname = \(text: table.idColumn.name)
            """).first?.bool("nullable") ?? true
        let withoutId = !nullable ? 0 : try db.query("""
            SELECT count(*) AS n FROM \(table.name) WHERE \(table.idColumn) IS NULL AND \(column) IS NOT NULL
            """).single("rows without an id").int("n")
        guard withoutId == 0 else {
            throw LetheError.config("\(table.name): \(withoutId) row(s) with a \(column.name) value have no row id (\(table.idColumn.name) is NULL)",
                                    hint: "the policy's id column for \(table.name) must be NOT NULL and unique: name the table's real one ('id:'), then run 'lethe policy check'")
        }
        // No lower bound on the first batch: a cursor starting at Int64.min is out of range for an integer id
        // column (issue 30, defect 2).
        var last: Int64? = nil
        let filter: SQL = onlyUnsealed ? "AND NOT \(Envelope.hasSealedHeader(column, form: form))" : ""
        let customerValue: SQLValue = customer.map { .int($0) } ?? .null
        while true {
            let timestamp: SQL = table.timestampColumn.map { "\($0)::text" } ?? "NULL::text"
            let companion: SQL = self.companion.map { "\($0)" } ?? "NULL::bytea"
            let rows = try db.query("""
                SELECT \(table.idColumn) AS id, \(customerKey) AS customer, \(form.readable("\(column)")) AS value, \(timestamp) AS ts,
                       \(companion) AS companion
                FROM \(table.name)
                WHERE (\(last)::bigint IS NULL OR \(table.idColumn) > \(last)) AND \(column) IS NOT NULL \(filter)
                  AND (\(customerValue)::bigint IS NULL OR \(customerKey) = \(customerValue))
                ORDER BY \(table.idColumn) LIMIT \(.int(Int64(batch)))
                """).rows
            guard !rows.isEmpty else { return }
            let values = try rows.map {
                Value(id: try $0.int("id"), customer: try $0.optionalInt("customer"), bytes: try $0.bytes("value"), timestamp: try $0.optionalString("ts"),
                      companion: try $0.optionalBytes("companion"))
            }
            try body(values)
            last = values.last!.id
        }
    }
}

/// `lethe encrypt verify`: opens every sealed value in scope and reports each one that does not open, by table,
/// column and row id. Plaintext left in a personal column counts as a failure too, and so does a blind index that
/// is not its number's: export and erasure find people through it, so a changed one would hide rows from both.
public struct SealedDataCheck {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let vault: Vault

    public init(db: PostgresConnection, policy: RetentionPolicy, vault: Vault) {
        self.db = db
        self.policy = policy
        self.vault = vault
    }

    public struct Report: Sendable, Encodable {
        public var checked = 0
        public var failures: [String] = []
        public var failureCount = 0
        /// Values without an envelope's shape (clear text, legacy AES-128-CBC): not yet sealed, not tampering.
        public var unsealed = 0
        /// "table.column" -> unsealed values in it.
        public var unsealedByColumn: [String: Int] = [:]
    }

    public func run(table wanted: String?, customer: Int64?) throws -> Report {
        var report = Report()
        for table in policy.tables where !table.personalColumns.isEmpty && (wanted == nil || table.name.description == wanted || table.name.name.name == wanted) {
            for column in table.personalColumns {
                let index = table.blindIndexes[column]
                try SealedColumnScan(db: db, table: table, column: column, batch: 5000, companion: index).forEachBatch(customer: customer, onlyUnsealed: false) { values in
                    for value in values {
                        guard Envelope.looksSealed(value.bytes) else {
                            report.unsealed += 1
                            report.unsealedByColumn["\(table.name).\(column.name)", default: 0] += 1
                            continue
                        }
                        report.checked += 1
                        do {
                            let customer = value.customer ?? CustomerKey.withoutCustomer
                            let plaintext = try vault.open(value.bytes, EnvelopeContext(table: table.name.description, column: column.name, customer: customer), row: value.id)
                            if let index, try !blindIndexMatches(plaintext, value.companion) {
                                throw LetheError.integrity("\(table.name).\(index.name) of row \(value.id) (customer \(customer)) is not the blind index of its number",
                                                           hint: "export and erasure would miss the row: the value was altered")
                            }
                        } catch let error as LetheError where error.code == .integrity {
                            report.failureCount += 1
                            if report.failures.count < 1000 { report.failures.append(error.message) }
                        }
                    }
                }
            }
        }
        return report
    }

    /// Whether `stored` is the blind index of the sealed number `plaintext` (stored E.164). A value that is not a
    /// number (a legacy row) is left to the other checks.
    private func blindIndexMatches(_ plaintext: [UInt8], _ stored: [UInt8]?) throws -> Bool {
        guard let expected = try vault.blindIndex.tag(ofStored: plaintext, region: policy.defaultRegion, rules: policy.phoneRules) else { return true }
        return stored == expected
    }
}
