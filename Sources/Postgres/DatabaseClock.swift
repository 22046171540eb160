import Foundation

/// The database clock, the single time source of a run: read once, at its start, in one `now()` (the
/// transaction's start time, so a clock set by libfaketime on the server is the one every job sees).
public struct DatabaseClock: Sendable {
    public let date: Date
    /// `now()` as PostgreSQL prints it, for text COPY.
    public let text: String
    /// Microseconds since 2000-01-01 UTC (PostgreSQL's own epoch), for binary COPY.
    public let microseconds: Int64

    /// PostgreSQL's epoch (2000-01-01 UTC) in Unix seconds.
    static let postgresEpoch: Int64 = 946_684_800

    public static func read(_ db: PostgresConnection) throws -> DatabaseClock {
        let row = try db.query("""
            SELECT now()::text AS now, ((extract(epoch FROM now()) - 946684800) * 1000000)::bigint AS micros
            """).single("the database clock")
        let micros = try row.int("micros")
        return DatabaseClock(date: Date(timeIntervalSince1970: Double(postgresEpoch) + Double(micros) / 1e6),
                             text: try row.string("now"), microseconds: micros)
    }

    /// Now, by the database.
    public static func now(_ db: PostgresConnection) throws -> Date { try read(db).date }
}
