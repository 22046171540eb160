

/// A validated SQL identifier. The only way identifiers reach SQL text is `quoted`.
public struct SQLIdentifier: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let name: String

    /// Accepts plain lower-case identifiers (letters, digits, `_`, at most 63 bytes): the names
    /// Lethe's policies can refer to. Anything else is refused rather than escaped.
    public init(_ name: String) throws(LetheError) {
        guard Self.isValid(name) else {
            throw .dataError("invalid SQL identifier '\(name.prefix(64))'",
                             hint: "use lower-case letters, digits and '_' (at most 63 characters), starting with a letter or '_'")
        }
        self.name = name
    }

    /// A name read from PostgreSQL's catalog, whatever its case or characters (`"Marketing Optins"`): tables
    /// Lethe did not make are listed, counted and backed up by it, never refused. Quoted with `"` doubled.
    public init(catalog name: String) throws(LetheError) {
        guard !name.isEmpty, name.utf8.count <= 63, !name.utf8.contains(0) else {
            throw .dataError("invalid name in the catalog (\(name.utf8.count) bytes)")
        }
        self.name = name
    }

    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63 else { return false }
        let isStart = { (c: UInt8) in (c >= 0x61 && c <= 0x7A) || c == 0x5F }
        let isPart = { (c: UInt8) in isStart(c) || (c >= 0x30 && c <= 0x39) }
        return isStart(first) && name.utf8.allSatisfy(isPart)
    }

    /// Double-quoted form, safe to place in SQL text.
    public var quoted: String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
    public var description: String { name }
    public static func < (lhs: SQLIdentifier, rhs: SQLIdentifier) -> Bool { lhs.name < rhs.name }
}

/// `schema.name`, each part validated.
public struct QualifiedName: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let schema: SQLIdentifier
    public let name: SQLIdentifier

    public init(schema: SQLIdentifier, name: SQLIdentifier) {
        self.schema = schema
        self.name = name
    }

    /// Parses `schema.table` (or `table`, in `defaultSchema`).
    public init(parsing text: String, defaultSchema: String = "public") throws(LetheError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1: self.init(schema: try SQLIdentifier(defaultSchema), name: try SQLIdentifier(parts[0]))
        case 2: self.init(schema: try SQLIdentifier(parts[0]), name: try SQLIdentifier(parts[1]))
        default: throw .dataError("invalid table name '\(text.prefix(130))'", hint: "write it as schema.table")
        }
    }

    /// `schema.table` as written by `description`, parts as the catalog has them (split at the first dot).
    public init(catalogParsing text: String) throws(LetheError) {
        guard let dot = text.firstIndex(of: ".") else { throw .dataError("invalid table name '\(text.prefix(130))'", hint: "write it as schema.table") }
        self.init(schema: try SQLIdentifier(catalog: String(text[..<dot])), name: try SQLIdentifier(catalog: String(text[text.index(after: dot)...])))
    }

    public var quoted: String { "\(schema.quoted).\(name.quoted)" }
    public var description: String { "\(schema.name).\(name.name)" }
    public static func < (lhs: QualifiedName, rhs: QualifiedName) -> Bool { lhs.description < rhs.description }
}
