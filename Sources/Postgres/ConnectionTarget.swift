/// Where a connection points, for messages. Never holds the password.
public struct ConnectionTarget: Sendable, CustomStringConvertible {
    public let host: String
    public let port: String
    public let database: String
    public let user: String

    public var description: String { "host=\(host) port=\(port) database=\(database) user=\(user)" }
}
