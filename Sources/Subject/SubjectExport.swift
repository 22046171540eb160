import Audit
import Foundation
import Keys
import LetheCore
import LetheCrypto
import Logging
import Phone
import Policy
import Postgres

/// `lethe subject export` (GDPR art. 15): every row about one phone number, decrypted, as
/// `subject-<request>.json`, with a cover sheet `subject-<request>.md` for the person. Both files are mode
/// 0600. What it returns (and so what is printed) is counts and file names only.
public struct SubjectExport {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let keyring: Keyring
    let logger: Logger

    public init(db: PostgresConnection, policy: RetentionPolicy, keyring: Keyring, logger: Logger = Logger(label: "lethe.subject")) {
        self.db = db
        self.policy = policy
        self.keyring = keyring
        self.logger = logger
    }

    public struct Report: Sendable, Encodable {
        public let request: Int64?
        public let files: [String]
        /// Rows exported, per table.
        public let rows: [String: Int]
        public let totalRows: Int
        /// Blind-index candidates that were another person's number (expected with truncated indexes).
        public let collisionsDiscarded: Int
        /// Candidates whose number could not be opened (shredded key or altered value), not exported.
        public let unreadable: Int
        public let sha256: [String: String]
        /// Time from connection to files written and request closed (process start, policy and keyring load excluded).
        public let seconds: Double
    }

    public func run(number: PhoneNumber, directory: String, request requestId: Int64?) throws -> Report {
        let started = Date()
        let register = RequestRegister(db)
        let request = try requestId.map { try register.requireOpen($0, kind: .access) }
        try db.setParameter("TimeZone", "UTC")
        let findings = try SubjectSearch(number: number, db: db, policy: policy, keyring: keyring, logger: logger).locate(content: .full)

        let now = Date()
        let stem = "subject-" + (requestId.map(String.init) ?? Timestamps.compact(now))
        try ExportDirectory.prepare(directory)
        let json = try Self.document(findings.rows, request: request, generatedAt: now, policy: policy)
        let sheet = CoverSheet(policy: policy, rows: findings.rows, request: request, generatedAt: now, dataFile: stem + ".json").markdown
        var sha256: [String: String] = [:]
        var writers: [SecureFileWriter] = []
        // Decrypted files exist under their names only once the audit record that lists them has committed:
        // written and fsynced under temporary names, then the audit record and the request's closing in one
        // transaction, then renamed. Any failure before the rename removes them (the writers' deinit).
        for (name, bytes) in [(stem + ".json", json), (stem + ".md", Array(sheet.utf8))] {
            let writer = try SecureFileWriter(path: (directory as NSString).appendingPathComponent(name), replacing: requestId != nil)
            try writer.write(bytes)
            try writer.seal()
            sha256[name] = try SHA256.hex(bytes)
            writers.append(writer)
        }
        let counts = findings.countsByTable
        try db.transaction {
            try AuditLog.append(db, action: "subject.export", target: requestId.map { "request \($0)" } ?? "subject",
                                details: ["rows": .object(counts.mapValues { .int(Int64($0)) }),
                                          "files": .object(sha256.mapValues { .string($0) })])
            if let requestId { _ = try register.closeInTransaction(id: requestId) }
        }
        for writer in writers { try writer.publish() }
        let files = writers.map(\.path)
        logger.info("subject export written", metadata: ["rows": .stringConvertible(findings.rows.count), "directory": "\(directory)"])
        return Report(request: requestId, files: files, rows: counts, totalRows: findings.rows.count,
                      collisionsDiscarded: findings.collisions, unreadable: findings.unreadable, sha256: sha256,
                      seconds: Date().timeIntervalSince(started))
    }

    static func document(_ rows: [ExportedRow], request: RequestRegister.Request?, generatedAt: Date, policy: RetentionPolicy) throws -> [UInt8] {
        let object: [String: Any] = [
            "format": "lethe-subject-export",
            "version": 1,
            "request_id": request.map { $0.id as Any } ?? NSNull(),
            "generated_at": Timestamps.iso(generatedAt),
            "controller": policy.dpo.controller,
            "rows": rows.map(\.document),
        ]
        return JSONWriter.pretty(object)
    }
}

/// Export directories are created private (0700); an existing one is used as it is.
enum ExportDirectory {
    static func prepare(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw LetheError(.cannotCreate, "\(path) exists and is not a directory", hint: "give --out a directory") }
            if let old = try SecureFile.tightenDirectory(path) {
                Logger(label: "lethe.export").warning("export directory was open to group or others; made private (0700)",
                                                      metadata: ["directory": "\(path)", "old_mode": "\(old)"])
            }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw LetheError(.cannotCreate, "cannot create directory \(path)", hint: "check the parent exists and is writable")
        }
    }
}
