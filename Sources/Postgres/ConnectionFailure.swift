import LetheCore

/// Why a connection could not be made, as an exit code a retrying wrapper can trust: only an unreachable server
/// (69) is worth retrying as is; credentials (77), a malformed option (64) and a database or TLS setup at odds with
/// the server (78) fail the same way until someone changes them. libpq reports connection failures without a
/// SQLSTATE, so its messages are read: stable across releases, in English unless libpq or the server is set to
/// translate them, in which case a failure not recognised here stays 69.
enum ConnectionFailure {
    static func error(_ reason: String, target: ConnectionTarget) -> LetheError {
        let message = "cannot connect to PostgreSQL (\(target)): \(reason)"
        let text = reason.lowercased()
        func any(_ needles: String...) -> Bool { needles.contains { text.contains($0) } }
        if any("password authentication failed", "no password supplied", "authentication failed for user", "pg_hba.conf",
               "channel binding", "permission denied for database", "not permitted to log in")
            || (text.contains("role \"") && text.contains("does not exist")) {
            return LetheError(.noPermission, message,
                              hint: "check the user and its password (~/.pgpass, PGPASSFILE or the URL), its certificate, and the server's pg_hba.conf; retrying will not help")
        }
        if any("invalid sslmode", "invalid gssencmode", "invalid channel_binding", "invalid connection option", "invalid integer value",
               "invalid port number", "invalid value for parameter", "invalid target_session_attrs", "invalid ssl_min_protocol_version",
               "invalid ssl_max_protocol_version", "invalid load_balance_hosts", "invalid sslnegotiation", "invalid require_auth") {
            return LetheError(.usage, message,
                              hint: "fix the connection option named above in --database-url / LETHE_DATABASE_URL (libpq's connection parameters)")
        }
        if (text.contains("database \"") && text.contains("does not exist"))
            || any("server does not support ssl", "root certificate file", "certificate verify failed", "does not match host name") {
            return LetheError(.config, message,
                              hint: "the database or TLS setup named above does not match the server: fix the URL, create the database, or configure the server")
        }
        return LetheError(.unavailable, message,
                          hint: "check --database-url / LETHE_DATABASE_URL or the PG* environment, and that the server is running and reachable; worth retrying")
    }
}
