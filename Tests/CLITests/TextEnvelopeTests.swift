import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 30, what to build 2: a clear-text `text` column of a table Lethe did not make is sealed in place, in the
/// envelope's text form, with no `ALTER TYPE` and no rewrite; its blind index goes into a column `encrypt migrate`
/// adds (nullable, no default: catalog only). Export, erasure, verify and inspect read the text form.
@Suite struct TextEnvelopeTests {
    @Test func aTextColumnIsSealedInPlaceWithoutARewrite() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let policy = try PolicyFixture.adoptedPolicyFile(tables: """
              - table: public.sent_log
                timestamp: sent_at
                customer: account_id
                retention: P6M
                personal: [receiver, body]
                blind_index: { receiver: receiver_idx }
                category: Sent SMS
            """, in: directory)
        try db.connection.executeScript("""
            CREATE TABLE public.sent_log (id serial PRIMARY KEY, account_id bigint NOT NULL, sent_at timestamptz NOT NULL, receiver text, body text);
            INSERT INTO public.sent_log (account_id, sent_at, receiver, body)
                SELECT 1 + i % 2, now() - i * interval '1 hour', CASE WHEN i % 10 = 0 THEN '+33612345678' ELSE '+3361234' || lpad(i::text, 4, '0') END,
                       'Message numero ' || i FROM generate_series(1, 300) i;
            """)
        let relfilenode = { try db.connection.query("SELECT relfilenode::bigint AS n FROM pg_class WHERE oid = 'public.sent_log'::regclass").single("n").int("n") }
        let before = try relfilenode()
        let common = ["--policy", policy, "--database-url", db.conninfo, "--keyring", keyring]
        let keyless = ["--policy", policy, "--database-url", db.conninfo]

        let check = try LetheProcess.run(["policy", "check"] + keyless)
        #expect(check.status == 0, "text personal columns and a blind index column still to add are usable: \(check.stdout) \(check.stderr)")
        let unsealed = try LetheProcess.run(["inspect", "--table", "public.sent_log"] + keyless)
        #expect(unsealed.stdout.contains("UNSEALED_VALUE public.sent_log.receiver") && unsealed.stdout.contains("UNSEALED_VALUE public.sent_log.body"), "\(unsealed.stdout)")

        for column in ["receiver", "body"] {
            let migrate = try LetheProcess.run(["encrypt", "migrate", "--table", "public.sent_log", "--column", column, "--from", "plaintext"] + common)
            #expect(migrate.status == 0, "\(migrate.stdout) \(migrate.stderr)")
        }
        #expect(try relfilenode() == before, "sealed in place: the table was not rewritten")
        #expect(try db.connection.query("SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'public.sent_log'::regclass AND attname = 'receiver'")
            .single("t").string("t") == "text", "no ALTER TYPE")
        let shapes = try db.connection.query("""
            SELECT count(*) FILTER (WHERE receiver LIKE 'lethe:v2:%' AND body LIKE 'lethe:v2:%') AS sealed, count(receiver_idx) AS indexed, count(*) AS n FROM public.sent_log
            """).single("shapes")
        #expect(try shapes.int("sealed") == 300 && shapes.int("indexed") == 300, "every value in the text form, every number indexed")
        #expect(try !db.connection.query("SELECT string_agg(receiver || body, '') AS s FROM public.sent_log").single("s").string("s").contains("Message"))

        let verify = try LetheProcess.run(["encrypt", "verify"] + common)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let inspect = try LetheProcess.run(["inspect", "--table", "public.sent_log"] + keyless)
        #expect(!inspect.stdout.contains("UNSEALED_VALUE") && !inspect.stdout.contains("MISSING_BLIND_INDEX") && !inspect.stdout.contains("UNDECLARED"), "\(inspect.stdout)")

        // A clear value written after the migration, and a forged text form naming no key of the customer, are seen.
        try db.connection.execute("""
            INSERT INTO public.sent_log (account_id, sent_at, receiver, body) VALUES
                (1, now(), '+33699999999', 'late clear text'),
                (1, now(), 'lethe:v2:' || encode(decode('4c545402' || repeat('00', 52), 'hex'), 'base64'), 'lethe:v2:AAAA')
            """)
        let late = try LetheProcess.run(["inspect", "--table", "public.sent_log"] + keyless)
        #expect(late.stdout.contains("UNSEALED_VALUE public.sent_log.receiver") && late.stdout.contains("UNSEALED_VALUE public.sent_log.body"), "\(late.stdout)")
        try db.connection.execute("DELETE FROM public.sent_log WHERE sent_at > now() - interval '1 minute'")

        let out = directory + "/export"
        let export = try LetheProcess.run(["subject", "export", "--phone", "+33612345678", "--out", out] + common)
        #expect(export.status == 0, "\(export.stderr)")
        let exported = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".json") }.map {
            try String(contentsOfFile: out + "/" + $0, encoding: .utf8)
        }.joined()
        #expect(exported.contains("Message numero 10\"") && exported.contains("Message numero 300\""), "found through the blind index, opened from the text form")
        #expect(!exported.contains("Message numero 11\""))
        let erase = try LetheProcess.run(["subject", "erase", "--phone", "+33612345678"] + common)
        #expect(erase.status == 0, "\(erase.stderr)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM public.sent_log").single("n").int("n") == 270)
        #expect(try relfilenode() == before)
    }

    /// Issue 33: a `varchar(20)` number column, too narrow for an envelope's text form, is widened to `text` before it
    /// is sealed, without a rewrite (binary-coercible: neither the table nor its index gets a new file); the dry run
    /// says so and changes nothing.
    @Test func aNarrowVarcharIsWidenedWithoutARewriteBeforeItIsSealed() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let policy = try PolicyFixture.adoptedPolicyFile(tables: """
              - table: public.dlr
                timestamp: created
                customer: account_id
                personal: [destination]
                blind_index: { destination: destination_idx }
            """, in: directory)
        try db.connection.executeScript("""
            CREATE TABLE public.dlr (id bigserial PRIMARY KEY, account_id bigint NOT NULL, created timestamptz NOT NULL DEFAULT now(), destination varchar(20));
            CREATE INDEX dlr_destination ON public.dlr (destination);
            INSERT INTO public.dlr (account_id, destination) SELECT 1, '+3361234' || lpad(i::text, 4, '0') FROM generate_series(1, 50) i;
            """)
        let files = {
            try db.connection.query("SELECT string_agg(relname || '=' || relfilenode, ',' ORDER BY relname) AS f FROM pg_class WHERE relname IN ('dlr', 'dlr_destination')")
                .single("f").string("f")
        }
        let before = try files()
        let common = ["--policy", policy, "--database-url", db.conninfo, "--keyring", keyring, "--table", "public.dlr", "--column", "destination", "--from", "plaintext"]
        let dry = try LetheProcess.run(["encrypt", "migrate", "--dry-run"] + common)
        #expect(dry.status == 0 && dry.stdout.contains("would widen public.dlr.destination: character varying(20) -> text"), "\(dry.stdout) \(dry.stderr)")
        #expect(try db.connection.query("SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'public.dlr'::regclass AND attname = 'destination'")
            .single("t").string("t") == "character varying(20)")
        let migrate = try LetheProcess.run(["encrypt", "migrate"] + common)
        #expect(migrate.status == 0 && migrate.stdout.contains("widened public.dlr.destination") && migrate.stdout.contains("50 value(s) re-sealed"), "\(migrate.stdout) \(migrate.stderr)")
        #expect(try files() == before, "no rewrite of the table or its index")
        #expect(try db.connection.query("SELECT count(*) AS n FROM public.dlr WHERE destination LIKE 'lethe:v2:%' AND destination_idx IS NOT NULL").single("n").int("n") == 50)
    }
}
