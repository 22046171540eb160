import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 30's acceptance: an SMS gateway's own tables (sqlbox-like: `serial` ids, `timestamp` columns, account
/// names in a nullable `text` column, the handset in `receiver` for outgoing rows and in `sender` for incoming ones,
/// short codes, numbers without `+`, a queue the gateway reads back in clear), adopted with only a policy written,
/// while the gateway keeps inserting. Every job exits 0 and does what its report says; the writer sees no error and
/// waits at most its lock_timeout; no table is rewritten. Issue 33: the same with the log's time in Unix epoch
/// seconds (`time bigint`) and its numbers in `varchar(20)`, widened to text in place before they are sealed.
@Suite struct GatewayAdoptionTests {
    /// How the gateway keeps its log table's time and numbers.
    enum Layout: String, CaseIterable, CustomTestStringConvertible {
        /// `time timestamp` (read as UTC), numbers in `text`.
        case timestamp
        /// `time bigint` of epoch seconds, numbers in `varchar(20)`.
        case epochSeconds

        var testDescription: String { rawValue }
        var timeType: String { self == .timestamp ? "timestamp" : "bigint" }
        var numberType: String { self == .timestamp ? "text" : "varchar(20)" }
        var policyTime: String { self == .timestamp ? "timestamp_zone: UTC" : "timestamp_type: epoch_seconds" }
        /// A UTC `timestamp` expression as the log's time column stores it.
        func stored(_ utc: String) -> String { self == .timestamp ? utc : "extract(epoch FROM (\(utc)) AT TIME ZONE 'UTC')::bigint" }
        /// The log's time column as a UTC `timestamp`.
        var readBack: String { self == .timestamp ? "time" : "(to_timestamp(time) AT TIME ZONE 'UTC')" }
    }

    static func tables(_ layout: Layout) -> String { """
          - table: public.sent_sms
            id: sql_id
            timestamp: time
            \(layout.policyTime)
            customer: account
            customer_type: text
            retention: P6M
            personal: [sender, receiver, msgdata]
            blind_index: { sender: sender_idx, receiver: receiver_idx }
            operational: [momt, dlr_mask]
            backup: true
            category: Sent and received SMS (numbers and text)
          - table: public.send_sms
            id: sql_id
            timestamp: time
            timestamp_zone: UTC
            customer: account
            customer_type: text
            retention: P6M
            personal_clear: [sender, receiver, msgdata]
            phone_clear: [receiver]
            operational: [momt]
            backup: true
            category: Outgoing queue (read back by the gateway in clear)
        """
    }

    @Test(arguments: Layout.allCases) func aGatewaysTablesAreAdoptedWithOnlyAPolicyWhileItWrites(_ layout: Layout) throws {
        let db = try TestDatabase(migrated: false)
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        // Hourly sealing of what the gateway writes in clear.
        let policy = try PolicyFixture.adoptedPolicyFile(tables: Self.tables(layout), in: directory, options: """
            phone_validation: length
            phone_without_plus: international
            short_codes: accept
            schedule:
              encrypt: "0 * * * *"

            """)
        try db.connection.executeScript("""
            CREATE TABLE public.sent_sms (sql_id serial PRIMARY KEY, momt text NOT NULL, sender \(layout.numberType), receiver \(layout.numberType), msgdata text,
                                          account text, time \(layout.timeType) NOT NULL, dlr_mask integer);
            CREATE INDEX ON public.sent_sms (time);
            CREATE TABLE public.send_sms (sql_id serial PRIMARY KEY, momt text NOT NULL, sender text, receiver text, msgdata text, account text,
                                          time timestamp NOT NULL);
            INSERT INTO public.sent_sms (momt, sender, receiver, msgdata, account, time, dlr_mask)
                SELECT CASE WHEN i % 3 = 0 THEN 'MO' ELSE 'MT' END,
                       CASE WHEN i % 3 = 0 THEN n ELSE '36180' END, CASE WHEN i % 3 = 0 THEN '36180' ELSE n END,
                       'message ' || i, (ARRAY[NULL, 'acme', 'beta', 'gamma', 'delta'])[i % 5 + 1],
                       \(layout.stored("(now() AT TIME ZONE 'UTC') - (i % 250) * interval '1 day' - (i % 24) * interval '1 hour'")), 31
                FROM generate_series(1, 2000) i, LATERAL (SELECT CASE WHEN i % 50 = 7 THEN '33612345678' ELSE '336' || lpad(i::text, 8, '0') END AS n) numbers;
            INSERT INTO public.send_sms (momt, sender, receiver, msgdata, account, time)
                SELECT 'MT', '36180', CASE WHEN j % 20 = 7 THEN '+33 6 12 34 56 78' ELSE '336' || lpad((j + 5000)::text, 8, '0') END,
                       'queue ' || j, (ARRAY[NULL, 'acme', 'beta', 'gamma', 'delta'])[j % 5 + 1], (now() AT TIME ZONE 'UTC') - (j % 10) * interval '1 minute'
                FROM generate_series(1, 200) j;
            """)
        let subjectRows = try db.connection.query("SELECT array_agg(sql_id ORDER BY sql_id)::text AS ids FROM public.sent_sms WHERE '33612345678' IN (sender, receiver)")
            .single("ids").string("ids")
        let relfilenodes = {
            try db.connection.query("SELECT string_agg(relname || '=' || relfilenode, ',' ORDER BY relname) AS r FROM pg_class WHERE relname IN ('sent_sms', 'send_sms')")
                .single("r").string("r")
        }
        let before = try relfilenodes()
        let writer = try ContinuousWriter(conninfo: db.conninfo, statements: [
            "INSERT INTO public.sent_sms (momt, sender, receiver, msgdata, account, time, dlr_mask) VALUES ('MT', '36180', '33698765432', 'live traffic', 'acme', \(layout.stored("now() AT TIME ZONE 'UTC'")), 31)",
            "INSERT INTO public.sent_sms (momt, sender, receiver, msgdata, account, time, dlr_mask) VALUES ('MO', '33698765432', '36180', 'STOP', NULL, \(layout.stored("now() AT TIME ZONE 'UTC'")), 0)",
            "INSERT INTO public.send_sms (momt, sender, receiver, msgdata, account, time) VALUES ('MT', '36180', '33698765432', 'queued live', 'acme', now() AT TIME ZONE 'UTC')",
        ])
        var writerStopped = false
        defer { if !writerStopped { _ = writer.stop() } }
        let repo = directory + "/repo"
        let common = ["--policy", policy, "--database-url", db.conninfo, "--keyring", keyring]
        let keyless = ["--policy", policy, "--database-url", db.conninfo]
        func run(_ arguments: [String], _ what: String) throws -> LetheProcess.Outcome {
            let outcome = try LetheProcess.run(arguments, environment: ["LETHE_BACKUP_REPO": repo])
            #expect(outcome.status == 0, "\(what): exit \(outcome.status)\n\(outcome.stdout)\n\(outcome.stderr)")
            return outcome
        }

        _ = try run(["migrate"] + keyless, "migrate")
        #expect(try db.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'sms'").single("n").int("n") == 0, "no reference schema")
        _ = try run(["policy", "check"] + keyless, "policy check")
        for column in ["sender", "receiver", "msgdata"] {
            let migrate = try run(["encrypt", "migrate", "--table", "public.sent_sms", "--column", column, "--from", "plaintext"] + common, "encrypt migrate \(column)")
            #expect(!migrate.stdout.contains("612345678") && !migrate.stderr.contains("612345678"))
        }
        #expect(try db.connection.query("SELECT count(*) AS n FROM public.sent_sms WHERE sql_id <= 2000 AND (msgdata NOT LIKE 'lethe:v2:%' OR receiver NOT LIKE 'lethe:v2:%')")
            .single("n").int("n") == 0, "every loaded row sealed in place")
        #expect(try db.connection.query("""
            SELECT string_agg(DISTINCT format_type(atttypid, atttypmod), ',') AS t FROM pg_attribute WHERE attrelid = 'public.sent_sms'::regclass AND attname IN ('sender', 'receiver')
            """).single("t").string("t") == "text", "a varchar(20) number column is widened to text (in place) before it is sealed")
        _ = try run(["retention", "set", "--customer", "beta", "--period", "P1M", "--reason", "contract 12"] + keyless, "retention set")
        _ = try run(["hold", "add", "--customer", "gamma", "--reason", "court order 7"] + keyless, "hold add")
        let dry = try run(["purge", "--dry-run", "--json"] + keyless, "purge --dry-run")
        let purge = try run(["purge", "--json"] + keyless, "purge")
        let (announced, deleted) = (try JSONReport(dry.stdout).totals, try JSONReport(purge.stdout).totals)
        #expect(announced == deleted && deleted["public.sent_sms", default: 0] > 500, "the dry run counts what the run deletes: \(announced) \(deleted)")
        #expect(purge.stdout.contains("\"check\" : [\n\n  ]") || purge.stdout.contains("\"check\" : []"), "no row older than its customer's cutoff remains: \(purge.stdout.suffix(800))")
        let ages = try db.connection.query("""
            SELECT coalesce(account, '-') AS account, max(extract(epoch FROM (now() AT TIME ZONE 'UTC') - \(layout.readBack)) / 86400)::int AS oldest
            FROM public.sent_sms GROUP BY 1 ORDER BY 1
            """).rows.map { "\(try $0.string("account")):\(try $0.int("oldest"))" }
        #expect(ages.count == 5 && ages.contains("gamma:249") && ages.contains { $0.hasPrefix("beta:") && Int($0.dropFirst(5))! <= 31 }
                && ages.allSatisfy { !$0.hasPrefix("gamma") ? Int($0.split(separator: ":")[1])! <= 184 : true }, "\(ages)")
        let exportDirectory = directory + "/export"
        _ = try run(["subject", "export", "--phone", "+33612345678", "--out", exportDirectory] + common, "subject export")
        let exported = try FileManager.default.contentsOfDirectory(atPath: exportDirectory).filter { $0.hasSuffix(".json") }.map {
            try String(contentsOfFile: exportDirectory + "/" + $0, encoding: .utf8)
        }.joined()
        #expect(exported.contains("\"message 7\"") && exported.contains("\"message 257\"") && exported.contains("\"queue 7\"") && exported.contains("\"queue 27\""),
                "both number columns and the clear queue: \(exported.prefix(3000))")
        #expect(!exported.contains("\"message 57\"") && !exported.contains("live traffic"), "purged rows and other people are not in it")
        #expect(exported.contains("\"recorded_at\" : \"20") && exported.contains("\"deletion_due\" : \"20"), "dates read from the time column, whatever its type")
        let sheet = try FileManager.default.contentsOfDirectory(atPath: exportDirectory).first { $0.hasSuffix(".md") }.map {
            try String(contentsOfFile: exportDirectory + "/" + $0, encoding: .utf8)
        } ?? ""
        #expect(sheet.contains("| Recorded |") && !sheet.contains("| - |"), "the cover sheet dates each record: \(sheet.suffix(600))")
        _ = try run(["subject", "erase", "--phone", "33612345678"] + common, "subject erase")
        let left = try db.connection.query("SELECT count(*) AS n FROM public.sent_sms WHERE sql_id = ANY (\(.text(subjectRows))::int[])").single("n").int("n")
        let queued = try db.connection.query("SELECT count(*) AS n FROM public.send_sms WHERE msgdata IN ('queue 7', 'queue 27')").single("n").int("n")
        #expect(left == 0 && queued == 0, "\(left) \(queued)")

        _ = try run(["backup"] + common + ["--repo", repo], "backup")
        let inspect = try run(["inspect"] + keyless, "inspect")
        #expect(inspect.stdout.contains("awaiting the encrypt job: public.sent_sms.msgdata"), "the gateway still writes clear text: \(inspect.stdout)")
        #expect(inspect.stdout.contains("clear by declaration (personal_clear, never sealed): public.send_sms.sender"), "\(inspect.stdout)")

        let gammaRows = try db.connection.query("SELECT count(*) AS n FROM public.sent_sms WHERE account = 'gamma'").single("n").int("n")
        let id = try #require(try FileManager.default.contentsOfDirectory(atPath: repo).first { $0.hasSuffix(".lethe-backup") }).replacingOccurrences(of: ".lethe-backup", with: "")
        let target = try TestDatabase(migrated: false)
        _ = try run(["restore", id, "--target-database", target.conninfo] + common + ["--repo", repo], "restore")
        #expect(try target.connection.query("SELECT count(*) AS n FROM public.sent_sms WHERE account = 'gamma'").single("n").int("n") == gammaRows)
        #expect(try target.connection.query("SELECT count(*) AS n FROM public.sent_sms WHERE sql_id = ANY (\(.text(subjectRows))::int[])").single("n").int("n") == 0)
        #expect(try target.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'sms'").single("n").int("n") == 0)

        _ = try run(["worker", "--once"] + common, "worker --once")
        #expect(try db.connection.query("SELECT count(*) AS n FROM public.sent_sms WHERE msgdata NOT LIKE 'lethe:v2:%'").single("n").int("n") < 200,
                "the encrypt job sealed what the gateway wrote in clear until it ran")

        let outcome = writer.stop()
        writerStopped = true
        #expect(outcome.errors.isEmpty, "the gateway saw errors: \(outcome.errors.prefix(3))")
        #expect(outcome.statements > 50 && outcome.longestSeconds < 1.0, "\(outcome.statements) statements, longest \(outcome.longestSeconds) s")
        #expect(try relfilenodes() == before, "no table rewritten")
    }
}
