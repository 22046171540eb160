import Foundation
import LetheCore
import Postgres
import TestSupport
import Testing

@Suite struct PostgresConnectionTests {
    @Test func bindsEveryValueKindAsParameters() throws {
        let db = try TestDatabase(migrated: false)
        let date = Date(timeIntervalSince1970: 1_790_000_000.25)
        let row = try db.connection.query(
            "SELECT $1::text AS t, $2::bigint AS i, $3::bool AS b, $4::bytea AS y, $5::timestamptz AS d, $6::text IS NULL AS n, $7::float8 AS f",
            [.text("it's \"quoted\"; DROP TABLE x"), .int(-42), .bool(true), .bytes([0, 1, 255]), .timestamp(date), .null, .double(1.5)]
        ).single("binds")
        #expect(try row.string("t") == "it's \"quoted\"; DROP TABLE x")
        #expect(try row.int("i") == -42)
        #expect(try row.bool("b"))
        #expect(try row.bytes("y") == [0, 1, 255])
        #expect(abs(try row.date("d").timeIntervalSince(date)) < 0.001)
        #expect(try row.bool("n"))
        #expect(try row.string("f") == "1.5")
    }

    @Test func sessionClockIsUTC() throws {
        let db = try TestDatabase(migrated: false)
        #expect(try db.connection.query("SHOW TimeZone").first?.values.first == "UTC")
    }

    @Test func transactionsCommitAndRollBack() throws {
        let db = try TestDatabase(migrated: false)
        try db.connection.execute("CREATE TABLE t (v int)")
        try db.connection.transaction { try db.connection.execute("INSERT INTO t VALUES (1)") }
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.connection.transaction {
                try db.connection.execute("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        #expect(try db.connection.query("SELECT count(*) AS n FROM t").single("count").int("n") == 1)
    }

    @Test func copyInAndOut() throws {
        let db = try TestDatabase(migrated: false)
        try db.connection.execute("CREATE TABLE t (id int, label text)")
        let copied = try db.connection.copyIn("COPY t (id, label) FROM STDIN") { writer in
            for i in 1...1000 { try writer.write("\(i)\trow \(i)\n") }
        }
        #expect(copied == 1000)
        var out = [UInt8]()
        let rows = try db.connection.copyOut("COPY (SELECT id, label FROM t ORDER BY id LIMIT 2) TO STDOUT") { out += $0 }
        #expect(rows == 2)
        #expect(String(decoding: out, as: UTF8.self) == "1\trow 1\n2\trow 2\n")
    }

    @Test func abortedCopyKeepsNothing() throws {
        let db = try TestDatabase(migrated: false)
        try db.connection.execute("CREATE TABLE t (id int)")
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try db.connection.copyIn("COPY t FROM STDIN") { writer in
                try writer.write("1\n2\n")
                throw Stop()
            }
        }
        #expect(try db.connection.query("SELECT count(*) AS n FROM t").single("count").int("n") == 0)
        #expect(db.connection.isAlive)
    }

    @Test func advisoryLockIsExclusiveAcrossSessions() throws {
        let db = try TestDatabase(migrated: false)
        let other = try db.newConnection()
        #expect(try db.connection.tryAdvisoryLock(.purge))
        #expect(try !other.tryAdvisoryLock(.purge))
        try db.connection.advisoryUnlock(.purge)
        #expect(try other.tryAdvisoryLock(.purge))
    }

    @Test func lockTimeoutIsReportedAsSuch() throws {
        let db = try TestDatabase(migrated: false)
        try db.connection.execute("CREATE TABLE t (id int)")
        let other = try db.newConnection()
        try other.execute("BEGIN")
        try other.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        try db.connection.setLockTimeout(milliseconds: 50)
        do {
            try db.connection.execute("SELECT * FROM t")
            Issue.record("expected a lock timeout")
        } catch let error as PostgresError {
            #expect(error.isLockTimeout)
            #expect(error.letheError.code == .tempFail)
        }
        try other.execute("ROLLBACK")
    }

    @Test func dataErrorsNeverQuoteTheValue() throws {
        let db = try TestDatabase(migrated: false)
        do {
            try db.connection.execute("SELECT $1::bigint", [.text("+33612345678x")])
            Issue.record("expected an error")
        } catch let error as PostgresError {
            #expect(error.sqlState == "22P02")
            #expect(!error.description.contains("33612345678"))
            #expect(!error.letheError.description.contains("33612345678"))
            #expect(error.letheError.code == .dataError)
        }
    }

    @Test func uniqueViolationHidesTheKey() throws {
        let db = try TestDatabase(migrated: false)
        try db.connection.execute("CREATE TABLE t (phone text PRIMARY KEY)")
        try db.connection.execute("INSERT INTO t VALUES ($1)", [.text("+33612345678")])
        do {
            try db.connection.execute("INSERT INTO t VALUES ($1)", [.text("+33612345678")])
            Issue.record("expected an error")
        } catch let error as PostgresError {
            #expect(error.sqlState == "23505")
            #expect(error.constraint == "t_pkey")
            #expect(!error.letheError.description.contains("33612345678"))
        }
    }

    /// A unique violation on an application table is bad input (65); on Lethe's own tables it is Lethe's internal
    /// error (70), never "fix the input named above" (issue 30, defect 10).
    @Test func aConstraintOfLethesOwnTablesIsAnInternalError() throws {
        let db = try TestDatabase(migrated: false)
        try db.connection.execute("CREATE SCHEMA lethe")
        try db.connection.execute("CREATE TABLE lethe.job_runs (id bigint PRIMARY KEY)")
        try db.connection.execute("CREATE TABLE public.t (id bigint PRIMARY KEY)")
        try db.connection.execute("INSERT INTO lethe.job_runs VALUES (1)")
        try db.connection.execute("INSERT INTO public.t VALUES (1)")
        #expect(performing: { try db.connection.execute("INSERT INTO lethe.job_runs VALUES (1)") }, throws: { error in
            let lethe = (error as? PostgresError)?.letheError
            return lethe?.code == .software && lethe?.hint?.contains("lethe.job_runs") == true
        })
        #expect(performing: { try db.connection.execute("INSERT INTO public.t VALUES (1)") }, throws: { error in
            (error as? PostgresError)?.letheError.code == .dataError
        })
    }

    @Test func failedConnectionNamesTargetButNeverThePassword() throws {
        do {
            _ = try PostgresConnection(conninfo: "postgresql://lethe:S3cretPassw0rd@127.0.0.1:1/nowhere?connect_timeout=2")
            Issue.record("expected a connection failure")
        } catch let error as LetheError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("host=127.0.0.1 port=1 database=nowhere"))
            #expect(!error.description.contains("S3cretPassw0rd"))
        }
    }

    @Test func malformedConninfoIsNotEchoed() {
        do {
            _ = try PostgresConnection(conninfo: "host=x password=hunter2 garbage")
            Issue.record("expected a refusal")
        } catch {
            #expect(!error.asLetheError.description.contains("hunter2"))
            #expect(error.asLetheError.code == .usage)
        }
    }

    @Test func timestampsParseFromServerText() {
        #expect(PostgresTimestamp.parse("2026-11-25 18:58:56.5+00")?.timeIntervalSince1970 == 1_795_633_136.5)
        #expect(PostgresTimestamp.parse("2026-11-25 19:58:56+01")?.timeIntervalSince1970 == 1_795_633_136)
        #expect(PostgresTimestamp.parse("not a time") == nil)
    }
}
