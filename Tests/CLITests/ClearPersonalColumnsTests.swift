import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 30, what to build 3: personal columns the application must keep in clear (a queue it reads back),
/// declared `personal_clear` (and `phone_clear` for the number): never sealed, yet found by export whatever
/// spelling the application wrote, erased by erasure, purged by age, and listed by inspect as clear by declaration.
@Suite struct ClearPersonalColumnsTests {
    @Test func aClearQueueIsExportedErasedAndPurgedWithoutBeingSealed() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let defaults = try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml"), encoding: .utf8)
        let policy = directory + "/queue.yaml"
        try defaults.replacingOccurrences(of: "phone_validation: length\n", with: "phone_validation: length\nphone_without_plus: international\n")
            .replacingOccurrences(of: "tables:\n", with: """
                tables:
                  - table: public.outbox
                    timestamp: queued_at
                    customer: account_id
                    retention: P6M
                    personal_clear: [receiver, body]
                    phone_clear: [receiver]
                    category: Outgoing queue (read back by the gateway)

                """).write(toFile: policy, atomically: true, encoding: .utf8)
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Passerelle')")
        try db.connection.execute("""
            CREATE TABLE public.outbox (id bigserial PRIMARY KEY, account_id bigint, queued_at timestamptz NOT NULL, receiver text, body text)
            """)
        try db.connection.execute("""
            INSERT INTO public.outbox (account_id, queued_at, receiver, body) VALUES
                (1, now() - interval '1 day', '33612345678', 'Votre code: 1234'),
                (1, now() - interval '2 days', '+33 6 12 34 56 78', 'Rappel RDV'),
                (1, now() - interval '3 days', '0612345678', 'A demain'),
                (1, now() - interval '1 day', '+447911123456', 'Someone else'),
                (1, now() - interval '200 days', '447911123456', 'Too old')
            """)
        let common = ["--policy", policy, "--database-url", db.conninfo, "--keyring", keyring]
        let keyless = ["--policy", policy, "--database-url", db.conninfo]
        let check = try LetheProcess.run(["policy", "check"] + keyless)
        #expect(check.status == 0, "\(check.stderr)")
        let out = directory + "/export"
        let export = try LetheProcess.run(["subject", "export", "--phone", "+33612345678", "--out", out] + common)
        #expect(export.status == 0, "\(export.stderr)")
        let exported = try FileManager.default.contentsOfDirectory(atPath: out).first { $0.hasSuffix(".json") }.map {
            try String(contentsOfFile: out + "/" + $0, encoding: .utf8)
        } ?? ""
        #expect(exported.contains("Votre code: 1234") && exported.contains("Rappel RDV") && exported.contains("A demain"), "every spelling: \(exported.prefix(2000))")
        #expect(!exported.contains("Someone else"))
        #expect(!export.stdout.contains("612345678") && !export.stderr.contains("612345678"))

        let inspect = try LetheProcess.run(["inspect", "--table", "public.outbox"] + keyless)
        #expect(inspect.stdout.contains("clear by declaration (personal_clear, never sealed): public.outbox.receiver, public.outbox.body"), "\(inspect.stdout)")
        #expect(!inspect.stdout.contains("UNSEALED_VALUE public.outbox") && !inspect.stdout.contains("UNDECLARED_COLUMN public.outbox"), "\(inspect.stdout)")

        let erase = try LetheProcess.run(["subject", "erase", "--phone", "06 12 34 56 78"] + common)
        #expect(erase.status == 0, "\(erase.stderr)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM public.outbox").single("n").int("n") == 2, "the three rows of the person are erased")
        let purge = try LetheProcess.run(["purge"] + keyless)
        #expect(purge.status == 0, "\(purge.stderr)")
        #expect(try db.connection.query("SELECT array_agg(body) AS b FROM public.outbox").single("b").string("b") == "{\"Someone else\"}", "the old row is purged")
    }
}
