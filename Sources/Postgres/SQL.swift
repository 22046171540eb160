import Foundation
import LetheCore

/// A statement and its values, built by interpolation: every interpolated value becomes a bound parameter
/// (`$1`, `$2`, … numbered in order when the statement is sent), every identifier its quoted form, and a fragment
/// its own text and values, renumbered where it lands. postgres-nio's `PostgresQuery` is the model.
///
///     db.query("SELECT id FROM \(table) WHERE customer_id = \(customer) AND created_at < \(cutoff)")
///
/// There is deliberately no interpolation of a plain `String`: text that is neither a value nor an identifier
/// (a keyword chosen by code, a bound literal Lethe formats itself) goes through `\(unsafeRaw:)`, the one escape
/// hatch, which `ArchitectureTests` lists file by file.
public struct SQL: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    enum Piece: Sendable, Equatable {
        case text(String)
        case value(SQLValue)
        /// Text already numbered `$1`…`$n` for `values`, renumbered where it lands (`init(unsafeRaw:binding:)`).
        case numbered(String, [SQLValue])
    }

    private(set) var pieces: [Piece]

    public init(stringLiteral value: String) { pieces = [.text(value)] }

    public init(stringInterpolation: StringInterpolation) { pieces = stringInterpolation.pieces }

    /// Text no caller's value reaches (a script read from Lethe's own migrations, a keyword picked by code).
    public init(unsafeRaw text: String) { pieces = [.text(text)] }

    /// Text numbered by hand (`$1`…`$n`) with its values: the old shape, kept for tests that write adversarial
    /// statements as text. Product code interpolates instead.
    public init(unsafeRaw text: String, binding values: [SQLValue]) { pieces = [.numbered(text, values)] }

    public struct StringInterpolation: StringInterpolationProtocol {
        var pieces: [Piece] = []

        public init(literalCapacity: Int, interpolationCount: Int) { pieces.reserveCapacity(interpolationCount * 2 + 1) }

        public mutating func appendLiteral(_ literal: String) { pieces.append(.text(literal)) }

        // Values: bound.
        public mutating func appendInterpolation(_ value: SQLValue) { pieces.append(.value(value)) }
        public mutating func appendInterpolation(_ value: Int64) { pieces.append(.value(.int(value))) }
        public mutating func appendInterpolation(_ value: Int) { pieces.append(.value(.int(Int64(value)))) }
        public mutating func appendInterpolation(_ value: Bool) { pieces.append(.value(.bool(value))) }
        public mutating func appendInterpolation(_ value: Date) { pieces.append(.value(.timestamp(value))) }
        public mutating func appendInterpolation(_ value: [UInt8]) { pieces.append(.value(.bytes(value))) }
        /// A string value, bound as text (the label says it is a value, not SQL).
        public mutating func appendInterpolation(text value: String) { pieces.append(.value(.text(value))) }
        /// A string value or NULL.
        public mutating func appendInterpolation(text value: String?) { pieces.append(.value(value.sqlValue)) }
        public mutating func appendInterpolation(_ value: Int64?) { pieces.append(.value(value.map(SQLValue.int) ?? .null)) }
        /// An array bound as one PostgreSQL array literal (`$n::bigint[]` in the text casts it).
        public mutating func appendInterpolation(_ values: [Int64]) { pieces.append(.value(.intArray(values))) }

        /// Lethe's own instant as a quoted literal, for statements that cannot bind (DDL such as partition bounds).
        /// Safe by construction: ISO-8601 text holds no quote.
        public mutating func appendInterpolation(literal date: Date) { pieces.append(.text("'" + Timestamps.isoFractional(date) + "'")) }
        /// A number as a literal, for statements that cannot bind (or where PostgreSQL wants a constant).
        public mutating func appendInterpolation(literal value: Int64) { pieces.append(.text(String(value))) }
        public mutating func appendInterpolation(literal value: Double) { pieces.append(.text(value.isFinite ? String(value) : "'NaN'")) }

        // Identifiers: quoted.
        public mutating func appendInterpolation(_ identifier: SQLIdentifier) { pieces.append(.text(identifier.quoted)) }
        public mutating func appendInterpolation(_ name: QualifiedName) { pieces.append(.text(name.quoted)) }

        // Fragments: their text and values, renumbered here.
        public mutating func appendInterpolation(_ fragment: SQL) { pieces += fragment.pieces }

        /// The escape hatch: text spliced as is. Only for text no outside value reaches.
        public mutating func appendInterpolation(unsafeRaw text: String) { pieces.append(.text(text)) }
    }

    /// The text with `$1`…`$n` in order of the values, and the values.
    public var rendered: (text: String, values: [SQLValue]) {
        var text = ""
        var values: [SQLValue] = []
        for piece in pieces {
            switch piece {
            case .text(let part): text += part
            case .value(let value):
                values.append(value)
                text += "$\(values.count)"
            case .numbered(let part, let bound):
                let offset = values.count
                text += offset == 0 ? part : part.replacing(/\$(\d+)/) { "$\(Int($0.output.1)! + offset)" }
                values += bound
            }
        }
        return (text, values)
    }

    public var values: [SQLValue] { rendered.values }

    /// The text as sent, with placeholders: what an error or a log may show (never a value).
    public var description: String { rendered.text }

    public static func + (lhs: SQL, rhs: SQL) -> SQL {
        var joined = lhs
        joined.pieces += rhs.pieces
        return joined
    }

    public static func += (lhs: inout SQL, rhs: SQL) { lhs.pieces += rhs.pieces }

    /// Fragments joined by `separator` (", ", " AND ").
    public static func joined(_ fragments: [SQL], separator: String) -> SQL {
        var result = SQL(stringLiteral: "")
        for (index, fragment) in fragments.enumerated() {
            if index > 0 { result.pieces.append(.text(separator)) }
            result.pieces += fragment.pieces
        }
        return result
    }
}

extension Array where Element == SQL {
    public func joined(separator: String) -> SQL { SQL.joined(self, separator: separator) }
}
