import Foundation
import LetheCore
import LetheCrypto

/// One input record: its line number (of its first line, 1-based) and its fields by name.
struct InputRecord: Sendable {
    let line: Int
    let fields: RecordFields
}

/// A record's fields by name. A record has a handful, so names are searched in order rather than hashed: a
/// dictionary per record was one of the import's largest costs. A CSV record shares its file's header as names.
/// A name given twice reads as its last value, as a dictionary filled in order would.
struct RecordFields: Sendable {
    private var names: [String]
    private var values: [String]

    init(names: [String] = [], values: [String] = []) {
        precondition(names.count == values.count)
        self.names = names
        self.values = values
    }

    subscript(name: String) -> String? { names.lastIndex(of: name).map { values[$0] } }

    /// Sets `name` to `value`, replacing an earlier value of the same name.
    mutating func set(_ name: String, _ value: String) {
        if let index = names.lastIndex(of: name) {
            values[index] = value
        } else {
            names.append(name)
            values.append(value)
        }
    }

    /// The distinct names, in the order they first appear.
    var keys: [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}

enum InputFormat: String, CaseIterable, Sendable {
    case csv, jsonl
}

/// Streams records from a file with constant memory: 64 KiB reads, one record at a time.
protocol RecordReader {
    /// Field names the file uses, with the lines they first appear on (the header for CSV).
    mutating func next() throws -> InputRecord?
    /// SHA-256 (hex) of the whole file, hashed as it was read (the rest is read if records stopped early).
    func fileSHA256() throws -> String
}

/// Reads a file in chunks and hands out bytes, hashing them on the way: the import's record of the file needs its
/// SHA-256, and reading it a second time for that cost as much again.
final class ChunkedInput {
    private let hasher: SHA256Hasher
    private let handle: FileHandle
    private let path: String
    private var buffer: [UInt8] = []
    private var position = 0
    private(set) var bytesRead = 0
    private var finished = false

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LetheError(FileManager.default.fileExists(atPath: path) ? .noPermission : .noInput, "cannot read input file \(path)")
        }
        self.handle = handle
        self.path = path
        hasher = try SHA256Hasher()
    }

    func sha256() throws -> String {
        while !finished {
            guard let data = try handle.readChunk(upToCount: 1 << 16, what: "input file \(path)") else { break }
            try hasher.update(Array(data))
        }
        finished = true
        return Hex.encode(try hasher.finish())
    }

    deinit { try? handle.close() }

    /// The next byte, or nil at end of file.
    @inline(__always) func next() throws -> UInt8? {
        if position == buffer.count {
            guard !finished else { return nil }
            guard let data = try handle.readChunk(upToCount: 1 << 16, what: "input file \(path)") else {
                finished = true
                return nil
            }
            buffer = Array(data)
            try hasher.update(buffer)
            position = 0
            bytesRead += data.count
        }
        defer { position += 1 }
        return buffer[position]
    }
}

/// RFC 4180 CSV with a header line: commas, double-quoted fields (with "" for a quote, and line breaks
/// inside quotes), LF or CRLF line ends. Blank lines are skipped.
struct CSVReader: RecordReader {
    private let input: ChunkedInput
    let header: [String]
    private var line = 1
    /// Longest field accepted (`FieldLimit`): a file is refused at the first field past it, before it is held.
    private let maxFieldBytes: Int

    init(path: String, maxFieldBytes: Int = FieldLimit.unbounded) throws {
        input = try ChunkedInput(path: path)
        self.maxFieldBytes = maxFieldBytes
        var firstLine = 1
        guard let names = try Self.readRow(input, line: &firstLine, maxFieldBytes: maxFieldBytes) else {
            throw LetheError.dataError("\(path) is empty: a CSV file starts with a header line naming its fields")
        }
        // A spreadsheet's "CSV UTF-8" starts with a byte-order mark, which would stick to the first name.
        header = names.enumerated().map { index, name in
            (index == 0 && name.hasPrefix("\u{FEFF}") ? String(name.dropFirst()) : name).trimmingCharacters(in: .whitespaces).lowercased()
        }
        line = firstLine
    }

    func fileSHA256() throws -> String { try input.sha256() }

    mutating func next() throws -> InputRecord? {
        while true {
            let start = line
            guard let values = try Self.readRow(input, line: &line, maxFieldBytes: maxFieldBytes) else { return nil }
            if values.count == 1 && values[0].isEmpty { continue }
            guard values.count == header.count else {
                throw IntakeFileError(line: start, reason: "has \(values.count) fields where the header has \(header.count)")
            }
            return InputRecord(line: start, fields: RecordFields(names: header, values: values))
        }
    }

    /// Reads one row; `line` advances past the line breaks consumed. Nil at end of file.
    private static func readRow(_ input: ChunkedInput, line: inout Int, maxFieldBytes: Int) throws -> [String]? {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        // Just after a closing quote: a second quote means an escaped one (""), anything but a delimiter is an error.
        var afterQuote = false
        var sawAny = false
        // A CR outside quotes ends a line only as CRLF (or at the end of the file): a bare one inside a field would
        // otherwise vanish from the value silently.
        var afterCarriageReturn = false
        while let byte = try input.next() {
            sawAny = true
            if afterCarriageReturn && byte != newline {
                throw IntakeFileError(line: line, reason: "has a bare carriage return (CR) outside quotes: end lines with LF or CRLF, or quote a field that holds a CR")
            }
            if field.count > maxFieldBytes { throw FieldLimit.exceeded(line: line, limit: maxFieldBytes) }
            if quoted {
                if byte == quote {
                    quoted = false
                    afterQuote = true
                } else {
                    if byte == newline { line += 1 }
                    field.append(byte)
                }
                continue
            }
            if afterQuote && byte == quote {
                field.append(quote)
                quoted = true
                afterQuote = false
                continue
            }
            switch byte {
            case comma:
                fields.append(try text(field, line: line))
                field.removeAll(keepingCapacity: true)
                afterQuote = false
            case newline:
                fields.append(try text(field, line: line))
                line += 1
                return fields
            case carriageReturn:
                afterCarriageReturn = true
            case quote where field.isEmpty && !afterQuote:
                quoted = true
            default:
                if afterQuote { throw IntakeFileError(line: line, reason: "has text after a closing quote") }
                field.append(byte)
            }
        }
        guard sawAny else { return nil }
        if quoted { throw IntakeFileError(line: line, reason: "ends inside a quoted field") }
        fields.append(try text(field, line: line))
        return fields
    }

    private static func text(_ bytes: [UInt8], line: Int) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw IntakeFileError(line: line, reason: "is not valid UTF-8") }
        return text
    }
}

/// One JSON object per line; values must be strings (or null for an absent optional field).
struct JSONLinesReader: RecordReader {
    private let input: ChunkedInput
    private var line = 0
    private let maxFieldBytes: Int

    init(path: String, maxFieldBytes: Int = FieldLimit.unbounded) throws {
        input = try ChunkedInput(path: path)
        self.maxFieldBytes = maxFieldBytes
    }

    func fileSHA256() throws -> String { try input.sha256() }

    mutating func next() throws -> InputRecord? {
        var bytes: [UInt8] = []
        while true {
            bytes.removeAll(keepingCapacity: true)
            var ended = false
            // A line holds a few fields, each escaped at most sixfold (\uXXXX): beyond that it cannot be valid.
            let maxLine = FieldLimit.lineBytes(forField: maxFieldBytes)
            while let byte = try input.next() {
                if byte == UInt8(ascii: "\n") {
                    ended = true
                    break
                }
                if bytes.count >= maxLine { throw FieldLimit.exceeded(line: line + 1, limit: maxFieldBytes) }
                bytes.append(byte)
            }
            guard ended || !bytes.isEmpty else { return nil }
            line += 1
            if line == 1 && bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                throw IntakeFileError(line: line, reason: "is not a JSON object")
            }
            var fields = RecordFields()
            for (key, value) in object {
                switch value {
                case let text as String:
                    if text.utf8.count > maxFieldBytes { throw FieldLimit.exceeded(line: line, limit: maxFieldBytes) }
                    fields.set(key.lowercased(), text)
                case is NSNull: continue
                default: throw IntakeFileError(line: line, reason: IntakeFileError.fieldName(key).map { "field '\($0)' is not a string" }
                                                    ?? "has a value that is not a string")
                }
            }
            return InputRecord(line: line, fields: fields)
        }
    }
}

/// The longest field an intake file may hold: the policy's longest possible message (max_segments segments of at
/// most 160 characters, each at most 4 bytes of UTF-8). A 200 MB field took 458 MB and two minutes before it was
/// refused as too long for an SMS; now reading stops at the first byte past the limit.
enum FieldLimit {
    static let unbounded = Int.max / 8

    static func bytes(maxSegments: Int) -> Int { maxSegments * 160 * 4 }

    static func lineBytes(forField field: Int) -> Int { field >= unbounded ? Int.max : field * 6 * 4 + 4096 }

    static func exceeded(line: Int, limit: Int) -> IntakeFileError {
        IntakeFileError(line: line, reason: "has a field longer than \(limit) bytes, more than the longest message the policy allows (max_segments)")
    }
}

/// A file that cannot be read as records at all, by line. Never quotes the content.
struct IntakeFileError: Error, LetheErrorConvertible {
    let line: Int
    let reason: String
    var letheError: LetheError { .dataError("line \(line) \(reason)", hint: "fix the file; nothing was written") }

    /// A field name as it may be shown: printable ASCII, at most 40 characters.
    /// A field name as it may be shown: only names shaped like identifiers (ASCII letters, digits and `_`, at
    /// most 63). Anything else is likely a value (a CSV whose header line is missing puts a phone number and a
    /// message there) and is reported by position only, never echoed.
    static func fieldName(_ name: String) -> String? {
        func letter(_ byte: UInt8) -> Bool { (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F }
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 63, letter(first),
              bytes.allSatisfy({ letter($0) || ($0 >= 0x30 && $0 <= 0x39) }) else { return nil }
        return name
    }
}
