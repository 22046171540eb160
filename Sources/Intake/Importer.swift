import Audit
import Foundation
import Keys
import LetheCore
import LetheCrypto
import Logging
import Phone
import Policy
import Postgres
import Schema

public struct ImportOptions: Sendable {
    public var format: String?
    public var defaultRegion: String?
    public var dryRun = false
    public var skipInvalid = false

    public init(format: String? = nil, defaultRegion: String? = nil, dryRun: Bool = false, skipInvalid: Bool = false) {
        self.format = format
        self.defaultRegion = defaultRegion
        self.dryRun = dryRun
        self.skipInvalid = skipInvalid
    }
}

/// `lethe import` and `lethe validate`: streams a CSV or JSONL file, checks every field against the policy,
/// normalises phones to E.164, seals personal values, and writes through COPY in one transaction, so that
/// a refused file, an invalid row (without --skip-invalid) or a kill at any instant writes nothing.
public struct Importer {
    let policy: RetentionPolicy
    let logger: Logger

    public init(policy: RetentionPolicy, logger: Logger = Logger(label: "lethe.import")) {
        self.policy = policy
        self.logger = logger
    }

    /// Checks a file without a database (`lethe validate`): the clock is this machine's, the cutoff the ceiling.
    public func validate(kind: IntakeKind, path: String, options: ImportOptions) throws -> ImportReport {
        let target = try IntakeTarget(kind: kind, policy: policy)
        let now = Date()
        let earliest = Calendar(identifier: .gregorian).date(byAdding: .month, value: -6, to: now) ?? now
        let validator = try validator(target, options: options, earliest: earliest, latest: now)
        var report = ImportReport(kind: kind.rawValue, customerId: nil, file: path)
        try scan(path: path, target: target, options: options, validator: validator, report: &report) { _ in false }
        report.outcome = report.refusesWholeFile || report.problemCount > 0 ? .refused : .validated
        return report
    }

    /// Imports (or with --dry-run, checks against the database) a file for one customer.
    public func run(kind: IntakeKind, path: String, customer: Int64, options: ImportOptions, db: PostgresConnection,
                    keyring: Keyring?, progress: ((Int) -> Void)? = nil) throws -> ImportReport {
        let target = try IntakeTarget(kind: kind, policy: policy)
        try CustomerDirectory(db, policy: policy).requireExists(customer)
        let clock = try db.query("SELECT now()::text AS now").single("clock").string("now")
        let cutoff = try CustomerCutoff.at(clock, tableRetention: target.table.retention ?? .ceiling, customer: customer, db: db)
        guard let now = PostgresTimestamp.parse(clock), let earliest = PostgresTimestamp.parse(cutoff) else {
            throw LetheError.software("unreadable database clock")
        }
        let validator = try validator(target, options: options, earliest: earliest, latest: now)
        var report = ImportReport(kind: kind.rawValue, customerId: customer, file: path)
        guard !options.dryRun else {
            try scan(path: path, target: target, options: options, validator: validator, report: &report) { _ in false }
            report.outcome = report.refusesWholeFile || (report.problemCount > 0 && !options.skipInvalid) ? .refused : .validated
            return report
        }
        guard let keyring else { throw LetheError.usage("importing seals personal data: give --keyring FILE or set LETHE_KEYRING") }
        let vault = try Vault(db: db, keyring: keyring, blindIndexBits: policy.blindIndexBits)
        _ = try vault.keys.sealingKey(customer: customer)  // created outside the import transaction
        // Partitions from the cutoff's month to next month exist before the transaction, which then takes no DDL lock.
        _ = try PartitionCatalog().ensure(db, policy: policy, now: now, from: earliest)
        let row = RowEncoder(target: target, vault: vault, customer: customer, clock: clock)
        let ids = try RowIds(session: try db.sibling(), table: target.table)
        struct Refused: Error {}
        var digest: String?
        do {
            try db.transaction {
                try db.copyIn(row.copyStatement) { writer in
                    digest = try scan(path: path, target: target, options: options, validator: validator, report: &report, progress: progress) { valid in
                        try writer.write(try row.line(valid, id: try ids.take()))
                        return true
                    }
                    if report.refusesWholeFile || (report.problemCount > 0 && !options.skipInvalid) { throw Refused() }
                }
                // Only a header that refuses the file leaves it unhashed, and that was thrown above.
                guard let digest else { throw LetheError.software("the import file was not hashed") }
                report.importId = try db.query("""
                    INSERT INTO lethe.imports (kind, customer_id, file_sha256, rows_read, rows_written, rows_refused, started_at, os_user)
                    VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8) RETURNING id
                    """, [.text(kind.rawValue), .int(customer), .text(digest), .int(Int64(report.rowsRead)),
                          .int(Int64(report.rowsWritten)), .int(Int64(report.problemCount)), .text(clock), .text(OperatorIdentity.osUser)])
                    .single("import").int("id")
                try AuditLog.append(db, action: "import.\(kind.rawValue)", target: "customer \(customer)", details: [
                    "import_id": .int(report.importId ?? 0), "rows_written": .int(Int64(report.rowsWritten)),
                    "rows_refused": .int(Int64(report.problemCount)),
                ])
            }
            report.outcome = .imported
        } catch is Refused {
            report.rowsWritten = 0
            report.outcome = .refused
        }
        return report
    }

    private func validator(_ target: IntakeTarget, options: ImportOptions, earliest: Date, latest: Date) throws -> RowValidator {
        let region = (options.defaultRegion ?? policy.defaultRegion).uppercased()
        guard PhoneNumber.isSupported(region: region) else {
            throw LetheError.usage("unknown default region '\(region.prefix(8))'", hint: "give an ISO 3166 alpha-2 code such as FR, DE or GB")
        }
        return RowValidator(kind: target.kind, defaultRegion: region, maxSegments: policy.maxSegments, rules: policy.phoneRules,
                            earliest: earliest, latest: latest)
    }

    /// Reads every record, recording unknown or missing fields and invalid rows. Valid rows go to `write` until the
    /// file is known to be refused (then only checking goes on, to report every problem); `write` says if it wrote.
    /// Returns the file's SHA-256 (hex), hashed in the same pass; nil when the header refused the file unread.
    @discardableResult
    private func scan(path: String, target: IntakeTarget, options: ImportOptions, validator: RowValidator, report: inout ImportReport,
                      progress: ((Int) -> Void)? = nil, write: (RowValidator.ValidRow) throws -> Bool) throws -> String? {
        let format = try Self.format(path: path, explicit: options.format)
        var reader: any RecordReader
        switch format {
        case .csv:
            let csv = try CSVReader(path: path)
            var seen = Set<String>()
            for (index, name) in csv.header.enumerated() {
                guard let shown = IntakeFileError.fieldName(name) else {
                    report.unnamedColumns.append(index + 1)
                    continue
                }
                if !target.allowedFields.contains(name) { report.unknown(shown, line: 1) }
                if !seen.insert(name).inserted { report.add(.init(line: 1, field: shown, reason: "appears twice in the header")) }
            }
            report.missingFields = target.intake.required.filter { !csv.header.contains($0) }
            // A header that names an unknown or lacks a required field refuses the file before any row is read.
            if report.refusesWholeFile { return nil }
            reader = csv
        case .jsonl:
            reader = try JSONLinesReader(path: path)
        }
        while let record = try reader.next() {
            report.rowsRead += 1
            if format == .jsonl {
                for name in record.fields.keys where !target.allowedFields.contains(name) {
                    if let shown = IntakeFileError.fieldName(name) {
                        report.unknown(shown, line: record.line)
                    } else {
                        report.add(.init(line: record.line, field: "(a key)", reason: "is not a field name"))
                    }
                }
                if record.fields.keys.contains(where: { !target.allowedFields.contains($0) }) { continue }
            }
            switch validator.validate(record) {
            case .success(let row):
                report.rowsValid += 1
                if row.phoneByLengthOnly { report.numbersAcceptedByLengthOnly += 1 }
                if let encoding = row.encoding {
                    if encoding.alphabet == .gsm7 { report.gsm7 += 1 } else { report.ucs2 += 1 }
                    report.segments += encoding.segments
                }
                let refused = report.refusesWholeFile || (report.problemCount > 0 && !options.skipInvalid)
                if !refused, try write(row) {
                    report.rowsWritten += 1
                    if report.rowsWritten % 100_000 == 0 { progress?(report.rowsWritten) }
                }
            case .failure(let problem):
                report.add(problem)
            }
        }
        return try reader.fileSHA256()
    }

    static func format(path: String, explicit: String?) throws -> InputFormat {
        if let explicit {
            guard let format = InputFormat(rawValue: explicit.lowercased()) else { throw LetheError.usage("--format must be csv or jsonl") }
            return format
        }
        let lower = path.lowercased()
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { return .jsonl }
        throw LetheError.usage("cannot tell the format of \(path) from its name", hint: "name it .csv or .jsonl, or pass --format csv|jsonl")
    }
}
