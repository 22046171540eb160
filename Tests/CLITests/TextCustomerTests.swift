import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 30, what to build 1 and 5: a gateway's accounts are names in a nullable `text` column (`customer_type:
/// text`). Lethe keys each name by lethe.customer_id(name), so per-account retention, holds, sealing and exports
/// work on them as on numbered customers; rows without an account follow the table's retention and are sealed
/// under the platform's own key; customers are known from the data and noted in Lethe's registry.
@Suite struct TextCustomerTests {
    static let tables = """
          - table: public.gw_log
            timestamp: sent_at
            timestamp_zone: UTC
            customer: account
            customer_type: text
            retention: P6M
            personal: [receiver, body]
            blind_index: { receiver: receiver_idx }
            category: Sent SMS
        """

    @Test func namedAccountsGetTheirOwnRetentionHoldsAndKeys() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let policy = try PolicyFixture.adoptedPolicyFile(tables: Self.tables, in: directory)
        let untyped = try PolicyFixture.adoptedPolicyFile(tables: Self.tables.replacingOccurrences(of: "    customer_type: text\n", with: ""), in: directory, name: "untyped.yaml")
        try db.connection.executeScript("""
            CREATE TABLE public.gw_log (id bigserial PRIMARY KEY, account text, sent_at timestamp NOT NULL, receiver text, body text);
            INSERT INTO public.gw_log (account, sent_at, receiver, body)
                SELECT a, (now() AT TIME ZONE 'UTC') - d * interval '1 day', '+3361234' || lpad((n * 10 + d)::text, 4, '0'), 'texte ' || coalesce(a, 'sans compte') || ' ' || d
                FROM unnest(ARRAY['acme', 'beta', 'gamma', NULL]) WITH ORDINALITY AS accounts(a, n), unnest(ARRAY[5, 40, 100, 200]) AS days(d);
            """)
        let common = ["--policy", policy, "--database-url", db.conninfo, "--keyring", keyring]
        let keyless = ["--policy", policy, "--database-url", db.conninfo]

        let refused = try LetheProcess.run(["policy", "check", "--policy", untyped, "--database-url", db.conninfo])
        #expect(refused.status != 0 && refused.stderr.contains("customer_type: text"), "\(refused.stdout) \(refused.stderr)")
        let check = try LetheProcess.run(["policy", "check"] + keyless)
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")

        for column in ["receiver", "body"] {
            let migrate = try LetheProcess.run(["encrypt", "migrate", "--table", "public.gw_log", "--column", column, "--from", "plaintext"] + common)
            #expect(migrate.status == 0, "rows without an account too: \(migrate.stdout) \(migrate.stderr)")
        }
        // Each account's values under its own data key: the key named by the envelope is the name's.
        let keyed = try db.connection.query("""
            SELECT count(*) FILTER (WHERE k.customer_id = lethe.customer_id(g.account)) AS own, count(*) FILTER (WHERE g.account IS NULL AND k.customer_id = 4611686018427387904) AS platform,
                   count(*) AS n
            FROM public.gw_log g JOIN lethe.customer_keys k ON k.key_id = ('x' || encode(substring(decode(substring(g.body FROM 10), 'base64') FROM 5 FOR 8), 'hex'))::bit(64)::bigint
            """).single("keys")
        #expect(try keyed.int("own") == 12 && keyed.int("platform") == 4 && keyed.int("n") == 16)

        #expect(try LetheProcess.run(["retention", "set", "--customer", "beta", "--period", "P1M", "--reason", "contrat 7"] + keyless).status == 0)
        let hold = try LetheProcess.run(["hold", "add", "--customer", "acme", "--reason", "enquete 12"] + keyless)
        let acme = try db.connection.query("SELECT lethe.customer_id('acme') AS id").single("id").int("id")
        #expect(hold.status == 0 && hold.stdout.contains("customer \(acme)"), "\(hold.stdout) \(hold.stderr)")
        let unknown = try LetheProcess.run(["hold", "add", "--customer", "nobody", "--reason", "x"] + keyless)
        #expect(unknown.status == 66 && unknown.stderr.contains("HINT:"), "\(unknown.status) \(unknown.stderr)")

        let dryRun = try LetheProcess.run(["purge", "--dry-run", "--json"] + keyless)
        #expect(dryRun.status == 0, "\(dryRun.stderr)")
        let purge = try LetheProcess.run(["purge"] + keyless)
        #expect(purge.status == 0, "\(purge.stdout) \(purge.stderr)")
        let survivors = try db.connection.query("""
            SELECT coalesce(account, '(none)') || ':' || string_agg(round(extract(epoch FROM (now() AT TIME ZONE 'UTC') - sent_at) / 86400)::text, ',' ORDER BY sent_at DESC) AS s
            FROM public.gw_log GROUP BY account ORDER BY 1
            """).rows.map { try $0.string("s") }
        #expect(survivors == ["(none):5,40,100", "acme:5,40,100,200", "beta:5", "gamma:5,40,100"], "\(survivors)")

        let list = try LetheProcess.run(["customer", "list"] + keyless)
        #expect(list.status == 0 && list.stdout.contains("acme") && list.stdout.contains("beta"), "\(list.stdout) \(list.stderr)")
        let verify = try LetheProcess.run(["encrypt", "verify"] + common)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let inspect = try LetheProcess.run(["inspect", "--table", "public.gw_log"] + keyless)
        #expect(inspect.status == 0 && !inspect.stdout.contains("UNSEALED") && !inspect.stdout.contains("OVERDUE"), "\(inspect.stdout)")

        let out = directory + "/export"
        let export = try LetheProcess.run(["customer", "export", "--customer", "gamma", "--out", out] + common)
        #expect(export.status == 0 && export.stdout.contains("exported 3 row(s)"), "\(export.stdout) \(export.stderr)")
        let subject = try LetheProcess.run(["subject", "export", "--phone", "+33612340080", "--out", directory + "/subject"] + common)
        #expect(subject.status == 0, "\(subject.stderr)")
        let exported = try FileManager.default.contentsOfDirectory(atPath: directory + "/subject").filter { $0.hasSuffix(".json") }.map {
            try String(contentsOfFile: directory + "/subject/" + $0, encoding: .utf8)
        }.joined()
        #expect(exported.contains("texte sans compte 40"), "a row without an account, opened with the platform's key")
    }

    /// The guarded purge functions (a worker login that owns nothing) key text customers the same way.
    @Test func theGuardedPurgeKeepsAHeldAccountsRows() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let policy = try PolicyFixture.adoptedPolicyFile(tables: Self.tables, in: directory)
        try db.connection.executeScript("""
            CREATE TABLE public.gw_log (id bigserial PRIMARY KEY, account text, sent_at timestamp NOT NULL, receiver text, body text);
            INSERT INTO public.gw_log (account, sent_at) SELECT a, (now() AT TIME ZONE 'UTC') - interval '200 days'
                FROM unnest(ARRAY['acme', 'beta', NULL]) a;
            """)
        _ = try LeastPrivilegeTests.clusterRoles.value()
        let applied = try LetheProcess.run(["roles", "apply", "--policy", policy, "--database-url", db.conninfo])
        #expect(applied.status == 0, "\(applied.stderr)")
        let keyless = ["--policy", policy, "--database-url", db.conninfo]
        #expect(try LetheProcess.run(["hold", "add", "--customer", "acme", "--reason", "enquete"] + keyless).status == 0)
        let purge = try LetheProcess.run(["purge", "--policy", policy, "--database-url", "\(db.conninfo) user=lp_worker"], environment: LeastPrivilegeTests.workerEnvironment)
        #expect(purge.status == 0, "\(purge.stdout) \(purge.stderr)")
        #expect(try db.connection.query("SELECT string_agg(coalesce(account, '-'), ',') AS s FROM public.gw_log").single("s").string("s") == "acme")
    }
}
