import Audit
import Foundation
import Keys
import LetheCore
import LetheCrypto
import Logging
import Policy
import Postgres
import Schema

/// `lethe customer export` (GDPR art. 20, portability): a customer's account data from every policy table
/// (its own row, contacts, templates, messages, delivery reports), personal columns decrypted, streamed in
/// batches into `customer-<id>.json` (mode 0600) so memory stays flat whatever the account's size.
public struct CustomerExport {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let keyring: Keyring
    let logger: Logger
    let batch: Int

    public init(db: PostgresConnection, policy: RetentionPolicy, keyring: Keyring, batch: Int = 5000,
                logger: Logger = Logger(label: "lethe.customer")) {
        self.db = db
        self.policy = policy
        self.keyring = keyring
        self.batch = batch
        self.logger = logger
    }

    public struct Report: Sendable, Encodable {
        public let customer: Int64
        public let file: String
        public let rows: [String: Int]
        public let unreadableValues: Int
        public let sha256: String
    }

    public func run(customer: Int64, directory: String) throws -> Report {
        try CustomerDirectory(db, policy: policy).requireExists(customer)
        try db.setParameter("TimeZone", "UTC")
        let vault = try Vault(db: db, keyring: keyring, blindIndexBits: policy.blindIndexBits)
        let reader = SubjectRowReader(db: db, vault: vault)
        try ExportDirectory.prepare(directory)
        let path = (directory as NSString).appendingPathComponent("customer-\(customer).json")
        let writer = try SecureFileWriter(path: path, replacing: false)
        let hasher = try SHA256Hasher()
        func emit(_ text: String) throws {
            let bytes = Array(text.utf8)
            try hasher.update(bytes)
            try writer.write(bytes)
        }
        var counts: [String: Int] = [:]
        var unreadable = 0
        // One repeatable-read snapshot: the tables agree with each other even while the platform keeps writing.
        do {
            try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            defer { _ = try? db.execute("ROLLBACK") }
            try emit("{\n  \"format\": \"lethe-customer-export\",\n  \"version\": 1,\n  \"customer_id\": \(customer),\n")
            try emit("  \"generated_at\": \"\(Timestamps.iso(Date()))\",\n  \"tables\": {")
            for (position, table) in policy.tables.enumerated() {
                let owner = CustomerKey.sql(table, alias: SQLIdentifier.t) ?? "t.\(table.idColumn)"
                try emit((position == 0 ? "\n" : ",\n") + "    \(Self.json(table.name.description)): [")
                var last = Int64.min
                var count = 0
                while true {
                    let rows = try reader.read(table, where: "\(owner) = \(customer) AND t.\(table.idColumn) > \(last)",
                                               content: .full, orderAndLimit: "ORDER BY t.\(table.idColumn) LIMIT \(batch)")
                    for row in rows {
                        var fields = row.exported.fields
                        if !row.exported.unreadable.isEmpty {
                            fields["lethe_unreadable_columns"] = row.exported.unreadable
                            unreadable += row.exported.unreadable.count
                        }
                        try emit((count == 0 ? "\n      " : ",\n      ") + (Self.json(fields)))
                        count += 1
                    }
                    guard let tail = rows.last else { break }
                    last = tail.exported.id
                    if rows.count < batch { break }
                }
                try emit(count == 0 ? "]" : "\n    ]")
                counts[table.name.description] = count
                logger.info("table exported", metadata: ["table": "\(table.name)", "rows": .stringConvertible(count)])
            }
            try emit("\n  }\n}\n")
        }
        // The decrypted file takes its name only once its audit record has committed; a failure before removes it.
        try writer.seal()
        let sha = Hex.encode(try hasher.finish())
        try AuditLog.append(db, action: "customer.export", target: "customer \(customer)", details: [
            "rows": .object(counts.mapValues { .int(Int64($0)) }), "sha256": .string(sha),
        ])
        try writer.publish()
        return Report(customer: customer, file: path, rows: counts, unreadableValues: unreadable, sha256: sha)
    }

    static func json(_ value: Any) -> String { String(decoding: JSONWriter.compact(value), as: UTF8.self) }
}
