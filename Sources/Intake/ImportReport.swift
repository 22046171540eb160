/// What an import or validation found and did. Names fields and line numbers, never a value.
public struct ImportReport: Sendable, Encodable {
    public struct LineProblem: Error, Sendable, Encodable, Equatable {
        public let line: Int
        public let field: String
        public let reason: String
    }

    public struct UnknownField: Sendable, Encodable, Equatable {
        public let field: String
        /// The first lines it appears on (the header line for CSV).
        public let lines: [Int]
    }

    public enum Outcome: String, Sendable, Encodable {
        /// Rows were written.
        case imported
        /// Checked only (validate, --dry-run).
        case validated
        /// Nothing was written: an unknown field, or an invalid row without --skip-invalid.
        case refused
    }

    public let kind: String
    public let customerId: Int64?
    public let file: String
    public var outcome: Outcome = .validated
    public var rowsRead = 0
    public var rowsValid = 0
    public var rowsWritten = 0
    public var gsm7 = 0
    public var ucs2 = 0
    public var segments = 0
    /// Valid rows whose number was accepted by its length only (`phone_validation: length`): from ranges
    /// libphonenumber's metadata does not know. Counted, never listed.
    public var numbersAcceptedByLengthOnly = 0
    /// Numbers written without their `+`, read as international (`phone_without_plus: international`).
    public var numbersWithoutPlus = 0
    /// Short codes kept as their digits (`short_codes: accept`).
    public var shortCodes = 0
    public var unknownFields: [UnknownField] = []
    public var missingFields: [String] = []
    /// Header columns (1-based) whose name is not a field name at all: likely a data line where the header
    /// should be. Reported by position only.
    public var unnamedColumns: [Int] = []
    /// The first line names none of the required fields: the header line is missing (nothing of it is shown).
    public var headerMissing = false
    /// Invalid rows, at most `problemLimit` listed; `problemCount` counts them all.
    public var problems: [LineProblem] = []
    public var problemCount = 0
    public var importId: Int64?

    public static let problemLimit = 1000

    mutating func add(_ problem: LineProblem) {
        problemCount += 1
        if problems.count < Self.problemLimit { problems.append(problem) }
    }

    mutating func unknown(_ field: String, line: Int) {
        if let index = unknownFields.firstIndex(where: { $0.field == field }) {
            if unknownFields[index].lines.count < 20 {
                unknownFields[index] = UnknownField(field: field, lines: unknownFields[index].lines + [line])
            }
        } else {
            unknownFields.append(UnknownField(field: field, lines: [line]))
        }
    }

    var refusesWholeFile: Bool { headerMissing || !unknownFields.isEmpty || !missingFields.isEmpty || !unnamedColumns.isEmpty }
}

extension ImportReport {
    /// Whether a report may show `name` as a field name: only identifier-shaped names are echoed, anything
    /// else may be a value from the file (a missing header line) and is reported by position.
    public static func mayShowFieldName(_ name: String) -> Bool { IntakeFileError.fieldName(name) != nil }
}
