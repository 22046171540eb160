import Foundation
import Postgres

/// The database clock is the single time source of a run: read once, at its start.
public enum DatabaseClock {
    public static func now(_ db: PostgresConnection) throws -> Date {
        try db.query("SELECT now() AS now").single("now()").date("now")
    }
}
