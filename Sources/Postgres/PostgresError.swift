import LetheCore

/// A server or connection error, reduced to what may be shown to an operator: the SQLSTATE, the
/// object names PostgreSQL reports, and the primary message except where it can quote a value.
/// DETAIL lines are never kept: they quote row values (e.g. the key of a unique violation).
public struct PostgresError: Error, LetheErrorConvertible, CustomStringConvertible, Sendable {
    public let sqlState: String
    public let message: String
    public let hint: String?
    public let table: String?
    public let column: String?
    public let constraint: String?
    /// What Lethe was doing, e.g. "purging sms.messages".
    public var context: String?

    public init(sqlState: String, message: String, hint: String? = nil, table: String? = nil,
                column: String? = nil, constraint: String? = nil, context: String? = nil) {
        self.sqlState = sqlState
        self.message = message
        self.hint = hint
        self.table = table
        self.column = column
        self.constraint = constraint
        self.context = context
    }

    /// Builds the operator-safe form from libpq's raw fields.
    static func fromServer(sqlState: String?, primary: String?, hint: String?, table: String?, column: String?,
                           constraint: String?, dataType: String?) -> PostgresError {
        let state = sqlState ?? "XX000"
        let message: String
        if state.hasPrefix("22") {
            // Data exceptions quote the offending input ("invalid input syntax for type bigint: \"…\"").
            let type = dataType.map { " of type \($0)" } ?? ""
            message = "invalid data value\(type) (the value is withheld from this message)"
        } else {
            message = primary ?? "unknown server error"
        }
        return PostgresError(sqlState: state, message: message, hint: state.hasPrefix("22") ? nil : hint,
                             table: table, column: column, constraint: constraint)
    }

    public var isLockTimeout: Bool { sqlState == "55P03" }
    public var isQueryCanceled: Bool { sqlState == "57014" }
    public var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }
    public var isUndefinedObject: Bool { sqlState == "42P01" || sqlState == "3F000" || sqlState == "42703" }

    public var description: String {
        var where_: [String] = []
        if let table { where_.append("table \(table)") }
        if let column { where_.append("column \(column)") }
        if let constraint { where_.append("constraint \(constraint)") }
        let location = where_.isEmpty ? "" : " [\(where_.joined(separator: ", "))]"
        let prefix = context.map { "\($0): " } ?? ""
        return "\(prefix)\(message) (SQLSTATE \(sqlState))\(location)"
    }

    public var letheError: LetheError {
        let errorClass = sqlState.prefix(2)
        var hint = self.hint
        let code: LetheExitCode
        if isLockTimeout {
            code = .tempFail
        } else if sqlState == "42501" {
            code = .noPermission
            hint = hint ?? "the database role lacks a privilege on the object named above: have its owner GRANT it, or run as a role that holds it"
        } else if errorClass == "28" {
            code = .noPermission
            hint = hint ?? "check the user, its password (~/.pgpass, never the command line) and the server's pg_hba.conf"
        } else if isUndefinedObject || errorClass == "3F" {
            code = .config
            hint = hint ?? "is the schema migrated? run 'lethe migrate --status'"
        } else if errorClass == "08" || errorClass == "53" || (errorClass == "57" && !isQueryCanceled) {
            code = .unavailable
        } else if sqlState == "25006" {
            // A standby, or a restored cluster still in recovery (pgBackRest, pg_basebackup): worth retrying once promoted.
            code = .unavailable
            hint = hint ?? "the server is read-only (a standby, or a restore still in recovery): run this against the primary, or once the server is promoted"
        } else if errorClass == "23", let table, table.hasPrefix("lethe.") {
            // A constraint of Lethe's own tables (a duplicate job run id, a register's key) is Lethe's fault, never
            // the operator's input (issue 30, defect 10).
            code = .software
            hint = "an internal error on Lethe's own table \(table): rerun the command; if it happens again, report it with this line and 'lethe status'"
        } else if errorClass == "22" || errorClass == "23" {
            code = .dataError
        } else {
            code = .software
        }
        return LetheError(code, "database error: \(description)", hint: hint)
    }
}
