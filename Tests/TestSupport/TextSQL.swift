import Postgres

/// Tests write some statements as text numbered by hand, with a parameter array (fixtures, statements an attacker
/// would send): the product cannot, it interpolates `SQL`.
extension PostgresConnection {
    @discardableResult
    public func query(_ sql: String, _ parameters: [SQLValue] = []) throws -> QueryResult {
        try query(SQL(unsafeRaw: sql, binding: parameters))
    }

    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue] = []) throws -> Int {
        try execute(SQL(unsafeRaw: sql, binding: parameters))
    }

    public func executeScript(_ sql: String) throws { try executeScript(SQL(unsafeRaw: sql)) }
}
