import Postgres

/// The benchmarks build their data sets with statements written as text numbered by hand, as the tests do;
/// the product cannot: it interpolates `SQL`.
extension PostgresConnection {
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue] = []) throws -> QueryResult {
        try query(SQL(unsafeRaw: sql, binding: parameters))
    }

    @discardableResult
    func execute(_ sql: String, _ parameters: [SQLValue] = []) throws -> Int {
        try execute(SQL(unsafeRaw: sql, binding: parameters))
    }

    func executeScript(_ sql: String) throws { try executeScript(SQL(unsafeRaw: sql)) }
}
