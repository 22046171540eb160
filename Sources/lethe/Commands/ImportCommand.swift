import Access
import ArgumentParser
import Foundation
import Intake
import LetheCore
import Phone

extension IntakeKind: ExpressibleByArgument {}

struct ImportCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import messages or contacts for a customer: only the policy's fields, validated, sealed.",
        discussion: """
            Messages require phone and message (sent_at allowed); contacts require phone (name allowed); the policy \
            decides. Any other field refuses the whole file (exit 65), naming the field and its lines. Phones are \
            normalised to E.164; messages get their encoding (GSM-7 or UCS-2) and segment count. By default one bad \
            row refuses the file; with --skip-invalid valid rows are written and the rest listed by line. The file is \
            written through COPY in one transaction: a kill at any instant writes nothing, and a rerun does the job. \
            Reports name fields and line numbers, never a value from the file.

            Examples:
              lethe import messages sent-2026-11.csv --customer 42 --keyring /etc/lethe/keyring
              lethe import contacts book.jsonl --customer 42 --default-region DE --skip-invalid
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions

    @Argument(help: "messages or contacts") var kind: IntakeKind
    @Argument(help: ArgumentHelp("CSV (with a header line) or JSONL file.", valueName: "file")) var file: String
    @Option(help: ArgumentHelp("Customer id the rows belong to.", valueName: "id")) var customer: Int64
    @Option(help: "csv or jsonl (default: from the file name).") var format: String?
    @Option(name: .customLong("default-region"), help: ArgumentHelp("Region for numbers without a country code (default: the policy's).", valueName: "CC"))
    var defaultRegion: String?
    @Flag(name: .customLong("dry-run"), help: "Check the file against the database and policy; write nothing.") var dryRun = false
    @Flag(name: .customLong("skip-invalid"), help: "Write the valid rows and list the others.") var skipInvalid = false
    @Option(help: ArgumentHelp("Threads that validate and seal rows while one reads the file and streams COPY (default: the machine's cores; 1: all on one thread). Reports and rows do not depend on it.", valueName: "n"))
    var jobs: Int?
    @Option(name: .customLong("batch-rows"), help: ArgumentHelp("Rows each thread validates and seals at a time (default: \(ImportOptions.defaultBatchRows)); at most 8 batches per thread are in flight, so memory is 8 × jobs × this.", valueName: "n"))
    var batchRows: Int?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        if let jobs, !(1...256).contains(jobs) { throw ValidationError("--jobs takes 1 to 256") }
        if let batchRows, !(1...1_000_000).contains(batchRows) { throw ValidationError("--batch-rows takes 1 to 1000000") }
    }

    func execute() throws {
        let options = ImportOptions(format: format, defaultRegion: defaultRegion, dryRun: dryRun, skipInvalid: skipInvalid, jobs: jobs,
                                    batchRows: batchRows)
        let importer = Importer(policy: try policyOptions.load())
        let db = try database.connect(for: .operator, command: "import")
        let showProgress = !json && isatty(STDERR_FILENO) == 1
        let report = try importer.run(kind: kind, path: file, customer: customer, options: options, db: db,
                                      keyring: dryRun ? nil : try keyring.load(),
                                      progress: showProgress ? { Terminal.progress("\($0) rows written") } : nil)
        try ImportReportText.render(report, json: json)
    }
}

struct ValidateCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a messages or contacts file as import would, without a database; write nothing.",
        discussion: """
            Phone numbers are checked as the policy's phone_validation says: 'length' (the default) accepts a number \
            whose country code exists and whose length is possible for it, so numbers from ranges opened after \
            libphonenumber's metadata was compiled are not refused (the report counts them); 'ranges' accepts only \
            ranges the metadata knows, plus the policy's phone_ranges. --version-info says which libphonenumber, \
            and how old its rules are.

            Examples:
              lethe validate messages sent-2026-11.csv
              lethe validate --version-info
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var policyOptions: PolicyOptions
    @Argument(help: "messages or contacts") var kind: IntakeKind?
    @Argument(help: ArgumentHelp("CSV (with a header line) or JSONL file.", valueName: "file")) var file: String?
    @Flag(name: .customLong("version-info"), help: "Print the libphonenumber version, its build date (its metadata is no newer) and the policy's phone rules.")
    var versionInfo = false
    @Option(help: "csv or jsonl (default: from the file name).") var format: String?
    @Option(name: .customLong("default-region"), help: ArgumentHelp("Region for numbers without a country code.", valueName: "CC"))
    var defaultRegion: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        if !versionInfo && (kind == nil || file == nil) { throw ValidationError("give the kind (messages or contacts) and the file, or --version-info") }
    }

    func execute() throws {
        let policy = try policyOptions.load()
        if versionInfo {
            let info = PhoneLibrary.info()
            let rules = policy.phoneValidation
            if json {
                return try Output.json(VersionInfoJSON(libphonenumber: info.version, libraryBuiltOn: info.builtOn, library: info.path,
                                                       phoneValidation: rules.mode.rawValue, phoneRanges: rules.ranges.map(\.prefix)))
            }
            Output.line("libphonenumber \(info.version) (\(info.path), built \(info.builtOn): its numbering-plan metadata is no newer)")
            Output.line("phone_validation: \(rules.mode.rawValue); phone_ranges: \(rules.ranges.isEmpty ? "none" : rules.ranges.map { "\($0.prefix) (\($0.lengths.map(String.init).joined(separator: "/")) digits)" }.joined(separator: ", "))")
            return
        }
        guard let kind, let file else { return }
        let report = try Importer(policy: policy)
            .validate(kind: kind, path: file, options: ImportOptions(format: format, defaultRegion: defaultRegion))
        try ImportReportText.render(report, json: json)
    }
}

enum ImportReportText {
    /// Prints the report; exits 65 when the file was refused.
    static func render(_ report: ImportReport, json: Bool) throws {
        if json {
            try Output.json(report)
        } else {
            for field in report.unknownFields {
                Output.line("unknown field '\(field.field)' on line\(field.lines.count > 1 ? "s" : "") \(field.lines.map(String.init).joined(separator: ", ")): only the policy's fields are accepted")
            }
            if report.headerMissing {
                Output.line("header missing: the first line names none of the required fields (\(report.missingFields.joined(separator: ", "))); it is not shown")
            } else {
                for column in report.unnamedColumns { Output.line("column \(column) is not a known field") }
                for field in report.missingFields { Output.line("required field '\(field)' is missing from the header") }
            }
            for problem in report.problems { Output.line("line \(problem.line): \(problem.field): \(problem.reason)") }
            if report.problemCount > report.problems.count { Output.line("... and \(report.problemCount - report.problems.count) more invalid rows") }
            let verb: String
            switch report.outcome {
            case .imported: verb = "imported \(report.rowsWritten) rows"
            case .validated: verb = "valid: \(report.rowsValid) rows would be imported"
            case .refused: verb = "refused: nothing was written"
            }
            Output.line("\(report.file): \(report.rowsRead) rows read, \(report.rowsValid) valid, \(report.problemCount) invalid; \(verb)")
            if report.numbersWithoutPlus > 0 {
                Output.line("\(report.numbersWithoutPlus) numbers written without their + (read as international: phone_without_plus: international)")
            }
            if report.shortCodes > 0 {
                Output.line("\(report.shortCodes) short codes (kept as written, not a person's number: short_codes: accept)")
            }
            if report.numbersAcceptedByLengthOnly > 0 {
                Output.line("\(report.numbersAcceptedByLengthOnly) numbers from ranges this metadata does not know (accepted by their length: phone_validation: length)")
            }
            if report.rowsValid > 0 && report.kind == "messages" {
                Output.line("encodings: \(report.gsm7) GSM-7, \(report.ucs2) UCS-2; \(report.segments) SMS segments")
            }
        }
        if report.outcome == .refused {
            throw LetheError.dataError(report.refusesWholeFileSummary, hint: "fix the file (or use --skip-invalid for invalid rows); nothing was written")
        }
    }
}

extension ImportReport {
    var refusesWholeFileSummary: String {
        if headerMissing { return "\(file): header missing (the first line names none of the required fields: \(missingFields.joined(separator: ", ")))" }
        if !unnamedColumns.isEmpty {
            return "\(file): column(s) \(unnamedColumns.map(String.init).joined(separator: ", ")) of the header \(unnamedColumns.count == 1 ? "is not a known field" : "are not known fields")"
        }
        if !unknownFields.isEmpty { return "\(file): unknown field(s) \(unknownFields.map { "'\($0.field)'" }.joined(separator: ", "))" }
        if !missingFields.isEmpty { return "\(file): missing required field(s) \(missingFields.joined(separator: ", "))" }
        return "\(file): \(problemCount) invalid row(s)"
    }
}

private struct VersionInfoJSON: Encodable {
    let libphonenumber: String
    let libraryBuiltOn: String
    let library: String
    let phoneValidation: String
    let phoneRanges: [String]
}
