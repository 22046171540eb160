import Foundation
import LetheCore

/// A value bound as a query parameter. Values are never spliced into SQL text.
public enum SQLValue: Sendable, Equatable {
    case null
    case text(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case bytes([UInt8])
    /// Sent as ISO-8601 UTC text; cast with `$n::timestamptz` where the type is not inferred.
    case timestamp(Date)

    /// Text-format rendering, or nil for NULL. Bytes are sent in binary format instead.
    var textForm: String? {
        switch self {
        case .null: nil
        case .text(let string): string
        case .int(let int): String(int)
        case .double(let double): String(double)
        case .bool(let bool): bool ? "t" : "f"
        case .bytes: nil
        case .timestamp(let date): Timestamps.isoFractional(date)
        }
    }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension Optional where Wrapped == String {
    public var sqlValue: SQLValue { map(SQLValue.text) ?? .null }
}

extension SQLValue {
    /// A `text[]` parameter (cast with `$n::text[]`): every element double-quoted, so commas, braces and
    /// parentheses inside values stay values.
    public static func textArray(_ values: [String]) -> SQLValue {
        .text("{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}")
    }

    /// A `bigint[]` parameter (cast with `$n::bigint[]`).
    public static func intArray(_ values: some Sequence<Int64>) -> SQLValue { .text(arrayLiteral(values)) }

    static func arrayLiteral(_ values: some Sequence<Int64>) -> String { "{" + values.map(String.init).joined(separator: ",") + "}" }
}
