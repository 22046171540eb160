import Postgres

/// The database clock when an import starts: the time of rows without sent_at, as text for text COPY and as
/// PostgreSQL's microseconds since 2000-01-01 UTC for binary COPY (both read from one `now()`).
struct DatabaseClock {
    let text: String
    let microseconds: Int64

    static func read(_ db: PostgresConnection) throws -> DatabaseClock {
        let row = try db.query("""
            SELECT now()::text AS now, ((extract(epoch FROM now()) - 946684800) * 1000000)::bigint AS micros
            """).single("clock")
        return DatabaseClock(text: try row.string("now"), microseconds: try row.int("micros"))
    }
}
