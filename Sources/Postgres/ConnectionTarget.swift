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


/// How a client program Lethe runs (pg_dump, pg_restore) connects: the very conninfo Lethe was given, as a
/// connection string for its `--dbname`, so that every libpq option (channel_binding, sslcrl, gssencmode,
/// ssl_min_protocol_version, ...) applies to it as to Lethe. Only the password moves, to `PGPASSWORD`, so that it
/// never appears on a command line (`ps`).
public struct ChildConnection: Sendable {
    /// The connection string for `--dbname`: every option Lethe's conninfo set but the password.
    public let connectionString: String
    /// Added to the child's environment.
    public let environment: [String: String]

    public init(conninfo: String?, applicationName: String) throws {
        var pairs: [(String, String)] = []
        var environment: [String: String] = [:]
        for (keyword, value) in try Self.options(conninfo) where keyword != "application_name" {
            if keyword == "password" { environment["PGPASSWORD"] = value } else { pairs.append((keyword, value)) }
        }
        pairs.append(("application_name", applicationName))
        self.connectionString = pairs.map { "\($0.0)=\(Self.quoted($0.1))" }.joined(separator: " ")
        self.environment = environment
    }

    /// The options a URL or conninfo sets explicitly (libpq's own parser), in libpq's order. A string libpq cannot
    /// parse is a usage error that does not echo it (libpq's parse errors can quote any part, the password included).
    static func options(_ conninfo: String?) throws(LetheError) -> [(String, String)] {
        guard let conninfo, !conninfo.isEmpty else { return [] }
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            throw .usage("the database URL is neither a postgresql:// URL nor a key=value connection string",
                         hint: "e.g. postgresql://lethe@db.example/sms or 'host=db.example dbname=sms user=lethe'")
        }
        defer { PQconninfoFree(options) }
        var pairs: [(String, String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { pairs.append((String(cString: keyword), String(cString: value))) }
            option += 1
        }
        return pairs
    }

    /// A conninfo value in single quotes, with `\` and `'` escaped as libpq reads them.
    static func quoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
