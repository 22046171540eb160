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
    /// Threads that validate and seal (`--jobs`); the reading and COPY thread comes on top. 1: sequential.
    public var jobs = ImportOptions.defaultJobs
    /// Rows a worker validates and seals at a time (`--batch-rows`); memory in flight is 8 × jobs × this.
    public var batchRows = ImportOptions.defaultBatchRows

    public static let defaultBatchRows = 1024
    public static var defaultJobs: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    public init(format: String? = nil, defaultRegion: String? = nil, dryRun: Bool = false, skipInvalid: Bool = false, jobs: Int? = nil,
                batchRows: Int? = nil) {
        self.format = format
        self.defaultRegion = defaultRegion
        self.dryRun = dryRun
        self.skipInvalid = skipInvalid
        self.jobs = max(1, jobs ?? Self.defaultJobs)
        self.batchRows = max(1, batchRows ?? ImportOptions.defaultBatchRows)
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
        let workers = try workers(target, options: options, earliest: earliest, latest: now)
        var report = ImportReport(kind: kind.rawValue, customerId: nil, file: path)
        try scan(path: path, target: target, options: options, workers: workers, ids: nil, report: &report) { _ in }
        report.outcome = report.refusesWholeFile || report.problemCount > 0 ? .refused : .validated
        return report
    }

    /// Imports (or with --dry-run, checks against the database) a file for one customer.
    public func run(kind: IntakeKind, path: String, customer: Int64, options: ImportOptions, db: PostgresConnection,
                    keyring: Keyring?, progress: ((Int) -> Void)? = nil) throws -> ImportReport {
        let target = try IntakeTarget(kind: kind, policy: policy)
        let (clock, now, earliest) = try target.window(customer: customer, db: db, policy: policy)
        var report = ImportReport(kind: kind.rawValue, customerId: customer, file: path)
        guard !options.dryRun else {
            let workers = try workers(target, options: options, earliest: earliest, latest: now)
            try scan(path: path, target: target, options: options, workers: workers, ids: nil, report: &report) { _ in }
            report.outcome = report.refusesWholeFile || (report.problemCount > 0 && !options.skipInvalid) ? .refused : .validated
            return report
        }
        guard let keyring else { throw LetheError.usage("importing seals personal data: give --keyring FILE or set LETHE_KEYRING") }
        let vault = try Vault(db: db, keyring: keyring, blindIndexBits: policy.blindIndexBits)
        // The data key is created outside the import transaction; each worker seals with its own contexts.
        let format = try CopyFormat.choose(for: target.table.name, columns: RowEncoder.columns(target), db: db)
        logger.info("writing rows through COPY", metadata: ["table": "\(target.table.name)", "copy_format": "\(format)"])
        let workers = try workers(target, options: options, earliest: earliest, latest: now) {
            RowEncoder(target: target, sealer: try vault.sealer(customer: customer), clock: clock, format: format)
        }
        // Partitions from the cutoff's month to next month exist before the transaction, which then takes no DDL lock.
        _ = try PartitionCatalog().ensure(db, policy: policy, now: now, from: earliest)
        let copyStatement = workers[0].encoder!.copyStatement
        let ids = try RowIds(session: try db.sibling(), table: target.table)
        struct Refused: Error {}
        var digest: String?
        do {
            try db.transaction {
                try db.copyIn(copyStatement) { writer in
                    try writer.write(format.header)
                    digest = try scan(path: path, target: target, options: options, workers: workers, ids: ids, report: &report,
                                      progress: progress) { line in try writer.write(line) }
                    if report.refusesWholeFile || (report.problemCount > 0 && !options.skipInvalid) { throw Refused() }
                    try writer.write(format.trailer)
                }
                // Only a header that refuses the file leaves it unhashed, and that was thrown above.
                guard let digest else { throw LetheError.software("the import file was not hashed") }
                report.importId = try db.query("""
                    INSERT INTO lethe.imports (kind, customer_id, file_sha256, rows_read, rows_written, rows_refused, started_at, os_user)
                    VALUES (\(.text(kind.rawValue)), \(.int(customer)), \(.text(digest)), \(.int(Int64(report.rowsRead))), \(.int(Int64(report.rowsWritten))), \(.int(Int64(report.problemCount))), \(.text(clock.text))::timestamptz, \(.text(OperatorIdentity.osUser))) RETURNING id
                    """)
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

    /// `options.jobs` workers, each with its own validator and (when the import writes) its own encoder; the
    /// phone verdicts are shared.
    private func workers(_ target: IntakeTarget, options: ImportOptions, earliest: Date, latest: Date,
                         encoder: (() throws -> RowEncoder)? = nil) throws -> [RecordWorker] {
        let region = (options.defaultRegion ?? policy.defaultRegion).uppercased()
        guard PhoneNumber.isSupported(region: region) else {
            throw LetheError.usage("unknown default region '\(region.prefix(8))'", hint: "give an ISO 3166 alpha-2 code such as FR, DE or GB")
        }
        let phones = PhoneVerdictCache(defaultRegion: region, rules: policy.phoneRules)
        return try (0..<options.jobs).map { _ in
            let validator = RowValidator(kind: target.kind, maxSegments: policy.maxSegments, earliest: earliest, latest: latest, phones: phones)
            return RecordWorker(validator: validator, encoder: try encoder?())
        }
    }

    /// Reads every record, recording unknown or missing fields and invalid rows. Records go in batches to the
    /// workers (validation, and with `ids` sealing and encoding); their outcomes are applied in file order, and the
    /// COPY lines of valid rows go to `write` until the file is known to be refused (then only checking goes on, to
    /// report every problem). Returns the file's SHA-256 (hex), hashed in the same pass; nil when the header
    /// refused the file unread.
    @discardableResult
    private func scan(path: String, target: IntakeTarget, options: ImportOptions, workers: [RecordWorker], ids: RowIds?,
                      report: inout ImportReport, progress: ((Int) -> Void)? = nil, write: ([UInt8]) throws -> Void) throws -> String? {
        let format = try Self.format(path: path, explicit: options.format)
        var reader: any RecordReader
        switch format {
        case .csv:
            let csv = try CSVReader(path: path, maxFieldBytes: FieldLimit.bytes(maxSegments: policy.maxSegments))
            var seen = Set<String>()
            // A first line naming none of the required fields is data, not a header: nothing of it is echoed.
            if !target.intake.required.contains(where: csv.header.contains) {
                report.headerMissing = true
                report.missingFields = target.intake.required
                return nil
            }
            for (index, name) in csv.header.enumerated() {
                guard let shown = IntakeFileError.fieldName(name), target.allowedFields.contains(name) || target.mayEcho(name) else {
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
            reader = try JSONLinesReader(path: path, maxFieldBytes: FieldLimit.bytes(maxSegments: policy.maxSegments))
        }
        let pipeline = ImportPipeline(workers: workers)
        defer { pipeline.drainQuietly() }
        func refused(_ report: ImportReport) -> Bool { report.refusesWholeFile || (report.problemCount > 0 && !options.skipInvalid) }
        func apply(_ outcomes: [RecordOutcome], to report: inout ImportReport) throws {
            for outcome in outcomes {
                switch outcome {
                case .unknownKeys(let keys, let line):
                    for name in keys {
                        if let shown = IntakeFileError.fieldName(name) {
                            report.unknown(shown, line: line)
                        } else {
                            report.add(.init(line: line, field: "(a key)", reason: "is not a field name"))
                        }
                    }
                case .problem(let problem):
                    report.add(problem)
                case .valid(let acceptance, let encoding, let line):
                    report.rowsValid += 1
                    switch acceptance {
                    case .lengthOnly: report.numbersAcceptedByLengthOnly += 1
                    case .internationalWithoutPlus: report.numbersWithoutPlus += 1
                    case .shortCode: report.shortCodes += 1
                    case .ranges, .operatorRange: break
                    }
                    if let encoding {
                        if encoding.alphabet == .gsm7 { report.gsm7 += 1 } else { report.ucs2 += 1 }
                        report.segments += encoding.segments
                    }
                    if !refused(report), let line {
                        try write(line)
                        report.rowsWritten += 1
                        if report.rowsWritten % 100_000 == 0 { progress?(report.rowsWritten) }
                    }
                }
            }
        }
        // Reading: records in file order, each with its row id taken in file order (so ids do not depend on --jobs;
        // an invalid row's is unused), in batches to the workers. Sealing stops once the file is known to be
        // refused: the rest is only checked. `refusedSoFar` is set where outcomes are applied.
        let refusedSoFar = RefusalFlag()
        let allowed = target.allowedFields
        func read(submit: ([PendingRecord], Bool) throws -> Void) throws -> (rows: Int, digest: String) {
            var rows = 0
            var batch: [PendingRecord] = []
            batch.reserveCapacity(options.batchRows)
            while let record = try reader.next() {
                rows += 1
                let unknown = format == .jsonl ? record.fields.keys.filter { !allowed.contains($0) }.sorted() : []
                let id = ids != nil && unknown.isEmpty && !refusedSoFar.isSet ? try ids!.take() : nil
                batch.append(PendingRecord(record: record, id: id, unknownKeys: unknown))
                if batch.count == options.batchRows {
                    try submit(batch, ids != nil && !refusedSoFar.isSet)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { try submit(batch, ids != nil && !refusedSoFar.isSet) }
            return (rows, try reader.fileSHA256())
        }
        func applying(_ outcomes: [RecordOutcome]) throws {
            try apply(outcomes, to: &report)
            if refused(report) { refusedSoFar.set() }
        }
        let result: (rows: Int, digest: String)
        if pipeline.isSequential {
            result = try read { batch, encode in
                pipeline.submit(batch, encode: encode)
                while pipeline.pending >= pipeline.capacity { try applying(try pipeline.next()) }
            }
            while pipeline.pending > 0 { try applying(try pipeline.next()) }
        } else {
            result = try pipeline.stream(read: read, apply: applying)
        }
        report.rowsRead = result.rows
        return result.digest
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
