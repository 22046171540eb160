import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 31, what to build 2 and 3: the database refuses unsealed personal values. `constraints apply` is refused
/// while clear values remain (naming the count), then adds each CHECK NOT VALID and validates it while the
/// application inserts; after it, the application's login (`lethe_app`) can insert sealed rows and read them, but a
/// clear-text INSERT fails in PostgreSQL itself, and it can neither delete nor change the schema.
@Suite struct SealedConstraintsTests {
    func count(_ db: PostgresConnection, _ sql: SQL) throws -> Int64 { try db.query(sql).single("count").int("n") }

    @Test func theDatabaseRefusesClearTextOnceConstraintsAreApplied() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais')")
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", directory + "/keyring"]
        let url = ["--database-url", db.conninfo]
        let file = try IntakeFixture.write(IntakeFixture.messagesCSV(), name: "m.csv", in: directory)
        #expect(try LetheProcess.run(["import", "messages", file, "--customer", "1"] + common).status == 0)
        _ = try LeastPrivilegeTests.clusterRoles.value()
        #expect(try LetheProcess.run(["roles", "apply"] + url).status == 0)

        let missing = try LetheProcess.run(["constraints", "check"] + url)
        #expect(missing.status == 1 && missing.stdout.contains("sms.messages.body") && missing.stdout.contains("missing"), "\(missing.stdout)")
        let inspect = try LetheProcess.run(["inspect"] + url)
        #expect(inspect.stdout.contains("sealing not enforced by the database (lethe constraints apply): "), "\(inspect.stdout)")

        // A row the application wrote in clear, before the constraints: apply is refused, naming the count.
        try db.connection.execute("INSERT INTO sms.messages (customer_id, recipient, body) VALUES (1, convert_to('+33611111111', 'UTF8'), convert_to('en clair', 'UTF8'))")
        let refused = try LetheProcess.run(["constraints", "apply"] + url)
        #expect(refused.status == 78 && refused.stderr.contains("sms.messages.body: 1 value(s) not sealed") && refused.stderr.contains("encrypt migrate"),
                "\(refused.stderr)")
        #expect(!refused.stderr.contains("en clair") && !refused.stderr.contains("611111111"))
        #expect(try count(db.connection, "SELECT count(*) AS n FROM pg_constraint WHERE conname LIKE 'lethe_sealed_%'") == 0, "nothing added")
        for column in ["recipient", "body"] {
            #expect(try LetheProcess.run(["encrypt", "migrate", "--table", "sms.messages", "--column", column, "--from", "plaintext"] + common).status == 0)
        }

        let writer = try ContinuousWriter(conninfo: db.conninfo, statements: [
            "INSERT INTO sms.messages (customer_id, recipient, body) SELECT customer_id, recipient, body FROM sms.messages WHERE customer_id = 1 LIMIT 1",
        ])
        var stopped = false
        defer { if !stopped { _ = writer.stop() } }
        let dry = try LetheProcess.run(["constraints", "apply", "--dry-run"] + url)
        #expect(dry.status == 0 && dry.stdout.contains("sms.messages.body: would add lethe_sealed_body"), "\(dry.stdout) \(dry.stderr)")
        let applied = try LetheProcess.run(["constraints", "apply"] + url)
        #expect(applied.status == 0 && applied.stdout.contains("sms.messages.body: added and validated"), "\(applied.stdout) \(applied.stderr)")
        let outcome = writer.stop()
        stopped = true
        #expect(outcome.errors.isEmpty && outcome.statements > 10 && outcome.longestSeconds < 1.0,
                "sealed inserts go on while the constraints are added: \(outcome.errors.prefix(2)), longest \(outcome.longestSeconds) s")
        #expect(try LetheProcess.run(["constraints", "check"] + url).status == 0)
        #expect(try LetheProcess.run(["constraints", "apply"] + url).stdout.contains("already enforced"), "idempotent")
        #expect(try count(db.connection, "SELECT count(*) AS n FROM lethe.audit_log WHERE action = 'constraints.apply'") == 1)

        // The application's login: sealed rows in and out, clear text refused by PostgreSQL, no DELETE, no DDL.
        let app = try PostgresConnection(conninfo: "\(db.conninfo) user=lp_app")
        #expect(try app.execute("INSERT INTO sms.messages (customer_id, recipient, body) SELECT customer_id, recipient, body FROM sms.messages WHERE customer_id = 1 LIMIT 1") == 1)
        #expect(try count(app, "SELECT count(*) AS n FROM sms.messages") > 3)
        for (statement, state) in [
            ("INSERT INTO sms.messages (customer_id, recipient, body) VALUES (1, convert_to('+33622222222', 'UTF8'), convert_to('texte en clair', 'UTF8'))", "23514"),
            ("DELETE FROM sms.messages", "42501"),
            ("UPDATE sms.messages SET segments = 1", "42501"),
            ("CREATE TABLE sms.mine (x int)", "42501"),
            ("DELETE FROM lethe.customer_keys", "42501"),
        ] {
            do {
                _ = try app.execute(SQL(unsafeRaw: statement))
                Issue.record("lethe_app was allowed: \(statement)")
            } catch let error as PostgresError {
                #expect(error.sqlState == state, "\(statement): \(error.sqlState) \(error.message)")
            }
        }
        let after = try LetheProcess.run(["inspect", "--json"] + url)
        #expect(!after.stdout.contains("unsealed_value") && after.stdout.contains("\"notEnforced\" : [\n\n  ]") || after.stdout.contains("\"notEnforced\" : []"),
                "\(after.stdout.prefix(1200))")
    }
}
