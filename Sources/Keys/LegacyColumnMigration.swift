import Audit
import LetheCore
import LetheCrypto
import Phone
import Policy
import Postgres
import Schema

/// `lethe encrypt migrate`: re-seals a personal column in place, from plaintext or from the platform's old
/// format (16-byte IV, then AES-128-CBC with PKCS#7 padding), in batches that each commit on their own, so a
/// rerun resumes where a killed run stopped. Each new envelope is opened again and compared before it is
/// written; a value that does not decrypt is reported by row id and left as it was.
public struct LegacyColumnMigration {
    public enum Source: String, Sendable, CaseIterable {
        case plaintext
        case aes128cbc = "aes-128-cbc"
    }

    let db: PostgresConnection
    let policy: RetentionPolicy
    let vault: Vault

    public init(db: PostgresConnection, policy: RetentionPolicy, vault: Vault) {
        self.db = db
        self.policy = policy
        self.vault = vault
    }

    public struct Report: Sendable, Encodable {
        public var converted = 0
        public var failed: [Failure] = []
        public var dryRun = false
        /// `varchar(n)` too narrow for an envelope's text form, widened to `text` first (`varchar(20) -> text`).
        public var widened: String? = nil
    }

    public struct Failure: Sendable, Encodable {
        public let rowId: Int64
        public let reason: String
    }

    public func run(table tableName: String, column columnName: String, from source: Source, legacyKey: SecretKey?,
                    batch: Int = 500, dryRun: Bool = false) throws -> Report {
        guard let table = policy.tables.first(where: { $0.name.description == tableName || $0.name.name.name == tableName }) else {
            throw LetheError.noInput("table \(tableName) is not in \(policy.source)")
        }
        guard let column = table.personalColumns.first(where: { $0.name == columnName }), table.customerColumn != nil else {
            throw LetheError.dataError("\(table.name).\(columnName) is not a personal column in \(policy.source)",
                                       hint: "personal columns of \(table.name): \(table.personalColumns.map(\.name).joined(separator: ", "))")
        }
        if source == .aes128cbc && legacyKey?.count != 16 {
            throw LetheError.usage("--from aes-128-cbc needs --legacy-key-file with a 16-byte key (32 hex digits)")
        }
        guard try db.tryAdvisoryLock(.encryptMigrate) else {
            throw LetheError(.tempFail, "another lethe encrypt migrate is running on this database", hint: "wait for it, then rerun: it resumes")
        }
        defer { _ = try? db.advisoryUnlock(.encryptMigrate) }
        let indexColumn = table.blindIndexes[column]
        if let indexColumn, !dryRun { try addMissingBlindIndexColumn(table, indexColumn) }
        let cbc = try LegacyAES128CBC()
        // Every value is read, and one that starts like an envelope counts as sealed only if it opens: a plaintext
        // value that happens to begin with the envelope's header bytes (`LTH` and a version) is sealed too.
        let scan = SealedColumnScan(db: db, table: table, column: column, batch: batch)
        var report = Report(dryRun: dryRun)
        report.widened = try widenIfNarrow(table, column, dryRun: dryRun)
        let form = try scan.form()
        try scan.forEachBatch(customer: nil, onlyUnsealed: false) { values in
            var updates: [(id: Int64, old: [UInt8], new: [UInt8], index: [UInt8]?, timestamp: String?)] = []
            for value in values {
                // Envelopes are sealed under the row's customer's data key; a row without a customer under the
                // platform's own (`CustomerKey.withoutCustomer`).
                let customer = value.customer ?? CustomerKey.withoutCustomer
                let context = EnvelopeContext(table: table.name.description, column: column.name, customer: customer)
                let looksSealed = Envelope.looksSealed(value.bytes)
                if looksSealed, (try? vault.open(value.bytes, context, row: value.id)) != nil { continue }
                var plaintext: [UInt8]
                switch source {
                case .plaintext:
                    plaintext = value.bytes
                case .aes128cbc:
                    guard let legacyKey, let decrypted = try cbc.open(legacyValue: value.bytes, key: legacyKey) else {
                        report.failed.append(Failure(rowId: value.id, reason: "does not decrypt with the legacy key (wrong key or corrupt value)"))
                        continue
                    }
                    plaintext = decrypted
                }
                var index: [UInt8]?
                if indexColumn != nil {
                    guard let text = String(validating: plaintext, as: UTF8.self),
                          case .success(let number) = PhoneNumber.parse(text, defaultRegion: policy.defaultRegion, rules: policy.phoneRules) else {
                        report.failed.append(Failure(rowId: value.id, reason: "not a valid phone number once decrypted"))
                        continue
                    }
                    plaintext = Array(number.e164.utf8)
                    index = try vault.blindIndex.tag(number)
                }
                let sealed: [UInt8]
                do {
                    sealed = try vault.seal(plaintext, context, row: value.id)
                } catch let error as LetheError where looksSealed {
                    // An envelope that does not open, of a customer with no data key to seal with (shredded): left.
                    report.failed.append(Failure(rowId: value.id, reason: "looks sealed but does not open, and cannot be sealed: \(error.message)"))
                    continue
                }
                guard try vault.open(sealed, context, row: value.id) == plaintext else {
                    report.failed.append(Failure(rowId: value.id, reason: "the new envelope did not verify"))
                    continue
                }
                updates.append((value.id, value.bytes, form.stored(sealed), index, value.timestamp))
            }
            guard !dryRun else {
                report.converted += updates.count
                return
            }
            try db.transaction {
                for update in updates {
                    let setIndex: SQL = indexColumn.map { column in ", \(column) = \(update.index.map { SQLValue.bytes($0) } ?? .null)" } ?? ""
                    // Naming the partition key prunes the update to one partition (daily layouts have hundreds).
                    var prune: SQL = ""
                    if let time = TimeColumn(table), let timestamp = update.timestamp {
                        prune = " AND \(time.name) = \(time.literal(timestamp))"
                    }
                    // Only if the value is still the one read: a concurrent change is left for the next run.
                    report.converted += try db.execute("""
                        UPDATE \(table.name) SET \(column) = \(update.new)\(setIndex)
                        WHERE \(table.idColumn) = \(update.id) AND \(column) = \(update.old)\(prune)
                        """)
                }
            }
        }
        if !dryRun {
            try AuditLog.append(db, action: "encrypt.migrate", target: "\(table.name).\(column.name)", details: [
                "from": .string(source.rawValue), "converted": .int(Int64(report.converted)), "failed": .int(Int64(report.failed.count)),
            ])
        }
        return report
    }

    /// A `varchar(n)` personal column cannot hold an envelope's text form (9 + 4·⌈(40 + bytes)/3⌉ characters, more than
    /// any n-character value): it is widened to `text` first. varchar to text is binary-coercible, so PostgreSQL
    /// changes only the catalog (no rewrite, no index rebuild: `relfilenode` unchanged), under a short `lock_timeout`,
    /// retried. Returns what was (or, on a dry run, would be) changed.
    func widenIfNarrow(_ table: TablePolicy, _ column: SQLIdentifier, dryRun: Bool) throws -> String? {
        guard let row = try db.query("""
            SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
            WHERE attrelid = \(text: table.name.quoted)::regclass AND attname = \(text: column.name) AND NOT attisdropped AND atttypid = 'varchar'::regtype AND atttypmod > 0
            """).first else { return nil }
        let change = "\(table.name).\(column.name): \(try row.string("type")) -> text"
        guard !dryRun else { return change }
        try LockTimeoutRetry(attempts: 50).transaction(db, "widening \(change)") {
            try db.setLockTimeout(milliseconds: 200, local: true)
            try db.execute("ALTER TABLE \(table.name) ALTER COLUMN \(column) TYPE text")
            _ = try AuditLog.append(db, action: "encrypt.widen_column", target: "\(table.name).\(column.name)", details: ["from": .string(try row.string("type"))])
        }
        return change
    }

    /// A table Lethe adopted has no column for the blind index its policy names: it is added, nullable and without a
    /// default, which PostgreSQL does in the catalog alone (no rewrite, no scan), under a short `lock_timeout`,
    /// retried, so the application's statements queue behind it for at most that long.
    func addMissingBlindIndexColumn(_ table: TablePolicy, _ column: SQLIdentifier) throws {
        let exists = try !db.query("""
            SELECT 1 FROM pg_attribute WHERE attrelid = \(text: table.name.quoted)::regclass AND attname = \(text: column.name) AND NOT attisdropped
            """).rows.isEmpty
        guard !exists else { return }
        try LockTimeoutRetry(attempts: 50).transaction(db, "adding blind index column \(table.name).\(column.name)") {
            try db.setLockTimeout(milliseconds: 200, local: true)
            try db.execute("ALTER TABLE \(table.name) ADD COLUMN IF NOT EXISTS \(column) bytea")
            _ = try AuditLog.append(db, action: "encrypt.add_blind_index_column", target: "\(table.name).\(column.name)")
        }
    }
}
