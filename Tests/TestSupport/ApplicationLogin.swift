import Foundation
import Postgres

/// A login role standing in for the platform's application, connecting through PUBLIC's CONNECT: what a restore
/// shuts out until its replay has committed. Dropped when released.
public final class ApplicationLogin {
    public let role = "lethe_app_\(UInt32.random(in: 0...UInt32.max))"
    private let admin: PostgresConnection

    public init(_ admin: PostgresConnection) throws {
        self.admin = admin
        try admin.execute("CREATE ROLE \(role) LOGIN")
    }

    deinit { _ = try? admin.execute("DROP ROLE IF EXISTS \(role)") }

    public func canConnect(to database: String) -> Bool {
        (try? PostgresConnection(conninfo: "dbname=\(database) user=\(role)")) != nil
    }
}
