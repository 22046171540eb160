import CLibPQ
import LetheCore
/// Where a connection points, for messages. Never holds the password.
public struct ConnectionTarget: Sendable, CustomStringConvertible {
    public let host: String
    public let port: String
    public let database: String
    public let user: String

    public var description: String { "host=\(host) port=\(port) database=\(database) user=\(user)" }
}


extension PostgresConnection {
    /// The PG* environment equivalent to a URL or conninfo, for client programs Lethe runs (pg_dump,
    /// pg_restore), so that no password appears on a command line.
    public static func environment(for conninfo: String?) throws -> [String: String] {
        guard let conninfo, !conninfo.isEmpty else { return [:] }
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            throw LetheError.usage("the database URL is neither a postgresql:// URL nor a key=value connection string")
        }
        defer { PQconninfoFree(options) }
        let variables = ["host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE", "user": "PGUSER",
                         "password": "PGPASSWORD", "passfile": "PGPASSFILE", "service": "PGSERVICE", "sslmode": "PGSSLMODE",
                         "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT",
                         "options": "PGOPTIONS", "application_name": "PGAPPNAME", "target_session_attrs": "PGTARGETSESSIONATTRS"]
        var environment: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val, let variable = variables[String(cString: keyword)] {
                environment[variable] = String(cString: value)
            }
            option += 1
        }
        return environment
    }
}
