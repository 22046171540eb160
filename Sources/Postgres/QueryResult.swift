import Foundation
import LetheCore

/// Rows of a finished query, copied out of libpq's result so that no C handle outlives the call.
public struct QueryResult: Sendable {
    public let columns: [String]
    public let rows: [Row]
    /// Rows affected by INSERT/UPDATE/DELETE/COPY (libpq's PQcmdTuples), 0 otherwise.
    public let affectedRows: Int

    init(columns: [String], values: [[String?]], affectedRows: Int) {
        self.columns = columns
        let index = ColumnIndex(columns)
        self.rows = values.map { Row(index: index, values: $0) }
        self.affectedRows = affectedRows
    }

    public var first: Row? { rows.first }

    /// The only row, or an error naming the query's purpose.
    public func single(_ what: String) throws(LetheError) -> Row {
        guard rows.count == 1, let row = rows.first else {
            throw .software("expected one row for \(what), got \(rows.count)")
        }
        return row
    }
}

final class ColumnIndex: Sendable {
    let positions: [String: Int]
    init(_ columns: [String]) {
        var positions: [String: Int] = [:]
        for (offset, name) in columns.enumerated() where positions[name] == nil { positions[name] = offset }
        self.positions = positions
    }
}

/// One row in text format. Accessors decode PostgreSQL's text representation; a missing column
/// or an undecodable value is a programming error reported with the column name only.
public struct Row: Sendable {
    let index: ColumnIndex
    public let values: [String?]

    public func raw(_ column: String) throws(LetheError) -> String? {
        guard let position = index.positions[column] else {
            throw .software("query result has no column '\(column)'")
        }
        return values[position]
    }

    public func isNull(_ column: String) throws(LetheError) -> Bool { try raw(column) == nil }

    public func string(_ column: String) throws(LetheError) -> String {
        guard let value = try raw(column) else { throw .software("column '\(column)' is null") }
        return value
    }

    public func optionalString(_ column: String) throws(LetheError) -> String? { try raw(column) }

    public func int(_ column: String) throws(LetheError) -> Int64 {
        guard let value = try optionalInt(column) else { throw .software("column '\(column)' is null") }
        return value
    }

    public func optionalInt(_ column: String) throws(LetheError) -> Int64? {
        guard let text = try raw(column) else { return nil }
        guard let value = Int64(text) else { throw .software("column '\(column)' is not an integer") }
        return value
    }

    public func bool(_ column: String) throws(LetheError) -> Bool {
        switch try raw(column) {
        case "t": return true
        case "f": return false
        default: throw .software("column '\(column)' is not a boolean")
        }
    }

    public func bytes(_ column: String) throws(LetheError) -> [UInt8] {
        guard let value = try optionalBytes(column) else { throw .software("column '\(column)' is null") }
        return value
    }

    /// Decodes bytea's hex output format (`\x0a1b…`).
    public func optionalBytes(_ column: String) throws(LetheError) -> [UInt8]? {
        guard let text = try raw(column) else { return nil }
        guard let bytes = HexBytes.decode(byteaText: text) else { throw .software("column '\(column)' is not bytea hex output") }
        return bytes
    }

    public func date(_ column: String) throws(LetheError) -> Date {
        guard let value = try optionalDate(column) else { throw .software("column '\(column)' is null") }
        return value
    }

    /// Decodes a timestamptz printed with DateStyle ISO in time zone UTC (set on every connection).
    public func optionalDate(_ column: String) throws(LetheError) -> Date? {
        guard let text = try raw(column) else { return nil }
        guard let date = PostgresTimestamp.parse(text) else { throw .software("column '\(column)' is not a UTC timestamp") }
        return date
    }
}

enum HexBytes {
    static func decode(byteaText text: String) -> [UInt8]? {
        guard text.hasPrefix("\\x") else { return nil }
        return Hex.decode(String(text.dropFirst(2)))
    }
}

/// PostgreSQL timestamptz text (`2026-11-25 18:58:56.123456+00`) in UTC.
public enum PostgresTimestamp {
    public static func parse(_ text: String) -> Date? {
        let s = Array(text.utf8)
        guard s.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard s[i] >= 0x30, s[i] <= 0x39 else { return nil }
                value = value * 10 + Int(s[i] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var index = 19
        var fraction = 0.0
        if index < s.count, s[index] == 0x2E {
            var scale = 0.1
            index += 1
            while index < s.count, s[index] >= 0x30, s[index] <= 0x39 {
                fraction += Double(s[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        if index < s.count, s[index] == 0x2B || s[index] == 0x2D {
            let sign = s[index] == 0x2D ? -1 : 1
            let rest = Array(s[(index + 1)...])
            let digits = rest.filter { $0 != 0x3A }
            guard digits.count >= 2, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            let values = digits.map { Int($0 - 0x30) }
            let hours = values[0] * 10 + values[1]
            let minutes = values.count >= 4 ? values[2] * 10 + values[3] : 0
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        }
        let days = Int((Month(year: year, month: month).start.timeIntervalSince1970 / 86400).rounded()) + day - 1
        let seconds = Double(days * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

}
