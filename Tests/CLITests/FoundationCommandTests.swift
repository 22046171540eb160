import Foundation
import TestSupport
import Testing

/// Black-box tests of the built binary: exit codes, stdout/stderr and database state.
@Suite struct FoundationCommandTests {
    func writePolicy(_ transform: (String) -> String) throws -> (path: String, text: String) {
        let original = try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml"), encoding: .utf8)
        let text = transform(original)
        let path = try IntakeFixture.directory(prefix: "lethe-policy") + "/policy.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, text)
    }

    func line(of needle: String, in text: String) -> Int {
        (text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(needle) } ?? -1) + 1
    }

    @Test func helpAndVersion() throws {
        let help = try LetheProcess.run(["--help"])
        #expect(help.status == 0)
        for command in ["migrate", "policy", "partitions", "exit-codes"] { #expect(help.stdout.contains(command)) }
        let version = try LetheProcess.run(["--version"])
        #expect(version.status == 0 && version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }

    @Test func usageErrorsExit64() throws {
        #expect(try LetheProcess.run(["migrate", "--no-such-flag"]).status == 64)
        #expect(try LetheProcess.run(["partitions", "ensure", "--months-ahead", "-3"]).status == 64)
        #expect(try LetheProcess.run(["partitions", "ensure", "--from", "November"]).status == 64)
    }

    @Test func exitCodeTable() throws {
        let outcome = try LetheProcess.run(["exit-codes"])
        #expect(outcome.status == 0)
        for code in ["64", "65", "66", "69", "70", "73", "74", "75", "77", "79"] { #expect(outcome.stdout.contains("\n\(code) ")) }
    }

    @Test func migrateThenNothingPendingThenStatus() throws {
        let db = try TestDatabase(migrated: false)
        let first = try LetheProcess.run(["migrate", "--database-url", db.conninfo])
        #expect(first.status == 0)
        #expect(first.stdout.contains("applied 0001_lethe_schema"))
        let files = try FileManager.default.contentsOfDirectory(atPath: LetheProcess.packageRoot.appendingPathComponent("Migrations").path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        let latest = Int(files.last!.prefix(4))!
        #expect(first.stdout.contains("\(files.count) migration(s) applied: schema is at version \(latest)"))
        let second = try LetheProcess.run(["migrate"], environment: ["LETHE_DATABASE_URL": db.conninfo])
        #expect(second.status == 0 && second.stdout.contains("nothing pending"))
        let status = try LetheProcess.run(["migrate", "--status", "--json", "--database-url", db.conninfo])
        #expect(status.status == 0 && status.stdout.contains("\"currentVersion\" : \(latest)"))
        let schemas = try db.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname IN ('lethe', 'sms')").single("n").int("n")
        #expect(schemas == 2)
    }

    /// Issue 30, what to build 5: for a policy of an adopted database (no `sms` table), `migrate` creates Lethe's own
    /// `lethe` schema and not the reference one; status says the reference schema is not used; `inspect` reports none
    /// of Lethe's own tables; a later `--reference-schema` adds it.
    @Test func theReferenceSchemaIsCreatedOnlyForAPolicyThatUsesIt() throws {
        let db = try TestDatabase(migrated: false)
        let directory = try IntakeFixture.directory()
        try db.connection.execute("CREATE TABLE public.sent_log (id bigserial PRIMARY KEY, account_id bigint, sent_at timestamptz NOT NULL, status text)")
        let policy = try PolicyFixture.adoptedPolicyFile(tables: """
              - table: public.sent_log
                timestamp: sent_at
                customer: account_id
                operational: [status]
            """, in: directory)
        let migrate = try LetheProcess.run(["migrate", "--policy", policy, "--database-url", db.conninfo])
        #expect(migrate.status == 0 && !migrate.stdout.contains("sms_schema"), "\(migrate.stdout) \(migrate.stderr)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'sms'").single("n").int("n") == 0)
        let status = try LetheProcess.run(["migrate", "--status", "--policy", policy, "--database-url", db.conninfo])
        #expect(status.stdout.contains("sms_schema") && status.stdout.contains("not used") && status.stdout.contains("schema is up to date"), "\(status.stdout)")
        let inspect = try LetheProcess.run(["inspect", "--policy", policy, "--database-url", db.conninfo])
        #expect(inspect.status == 0 && !inspect.stdout.contains("lethe."), "\(inspect.stdout) \(inspect.stderr)")
        #expect(try LetheProcess.run(["policy", "check", "--policy", policy, "--database-url", db.conninfo]).status == 0)
        let purge = try LetheProcess.run(["purge", "--policy", policy, "--database-url", db.conninfo])
        #expect(purge.status == 0, "\(purge.stderr)")
        let added = try LetheProcess.run(["migrate", "--reference-schema", "--policy", policy, "--database-url", db.conninfo])
        #expect(added.status == 0 && added.stdout.contains("applied 0002_sms_schema"), "\(added.stdout) \(added.stderr)")
    }

    @Test func migrateRefusesAnEditedFileNamingIt() throws {
        let db = try TestDatabase(migrated: false)
        let directory = try IntakeFixture.directory(prefix: "lethe-migrations") + "/Migrations"
        try FileManager.default.copyItem(atPath: LetheProcess.packageRoot.appendingPathComponent("Migrations").path, toPath: directory)
        #expect(try LetheProcess.run(["migrate", "--migrations-dir", directory, "--database-url", db.conninfo]).status == 0)
        let file = directory + "/0001_lethe_schema.sql"
        try (try String(contentsOfFile: file, encoding: .utf8) + "-- tweak\n").write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try LetheProcess.run(["migrate", "--database-url", db.conninfo], environment: ["LETHE_MIGRATIONS_DIR": directory])
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("0001_lethe_schema.sql has changed since it was applied"))
        #expect(refused.stderr.contains("HINT:"))
    }

    @Test func policyCheckAcceptsTheDefault() throws {
        let offline = try LetheProcess.run(["policy", "check", "Policies/default.yaml", "--offline"])
        #expect(offline.status == 0 && offline.stdout.contains("valid (5 tables"))
        let db = try TestDatabase()
        let online = try LetheProcess.run(["policy", "check", "--database-url", db.conninfo])
        #expect(online.status == 0)
        #expect(online.stdout.contains("matches database \(db.name)"))
    }

    @Test func policyCheckRefusesRetentionAboveCeiling() throws {
        let policy = try writePolicy { $0.replacingOccurrences(of: "retention: P6M\n    personal: [recipient, body]", with: "retention: P7M\n    personal: [recipient, body]") }
        let outcome = try LetheProcess.run(["policy", "check", policy.path, "--offline"])
        #expect(outcome.status == 65)
        #expect(outcome.stderr.contains("\(policy.path):\(line(of: "P7M", in: policy.text)): tables[3].retention: P7M exceeds the 6-month ceiling"))
    }

    @Test func policyCheckRefusesUnknownKey() throws {
        let policy = try writePolicy { $0.replacingOccurrences(of: "backup:\n  keep: P35D", with: "backup:\n  keep: P35D\n  forever: true") }
        let outcome = try LetheProcess.run(["policy", "check", policy.path, "--offline"])
        #expect(outcome.status == 65)
        #expect(outcome.stderr.contains("\(policy.path):\(line(of: "forever", in: policy.text)): backup.forever: unknown key"))
    }

    /// Issue 30, what to build 1: a column Lethe cannot use is refused with the reason. A row id must name one
    /// row (NOT NULL, unique); a `timestamp without time zone` is accepted once the policy says how to read it.
    @Test func policyCheckRefusesARowIdThatIsNullableOrNotUniqueAndReadsATimestampAsUTCWhenTold() throws {
        let db = try TestDatabase()
        try db.connection.execute("CREATE TABLE public.gateway_log (id integer, account bigint, sent_at timestamp NOT NULL, status text)")
        let directory = try IntakeFixture.directory()
        func check(_ extra: String) throws -> LetheProcess.Outcome {
            let path = try PolicyFixture.adoptedPolicyFile(tables: """
                  - table: public.gateway_log
                    timestamp: sent_at
                    customer: account
                    operational: [status]
                    category: Gateway log
                \(extra)
                """, in: directory, name: "gateway-\(UUID().uuidString).yaml")
            return try LetheProcess.run(["policy", "check", path, "--database-url", db.conninfo])
        }
        let bare = try check("")
        #expect(bare.status == 65, "\(bare.stderr)")
        #expect(bare.stderr.contains("row id public.gateway_log.id may be NULL and is not unique"), "\(bare.stderr)")
        #expect(bare.stderr.contains("public.gateway_log.sent_at is timestamp without time zone: say how to read it (timestamp_zone: UTC)"), "\(bare.stderr)")
        try db.connection.execute("ALTER TABLE public.gateway_log ADD PRIMARY KEY (id)")
        let keyed = try check("    timestamp_zone: UTC")
        #expect(keyed.status == 0, "\(keyed.stderr)")
        #expect(try check("    timestamp_zone: Europe/Paris").status == 65)
    }

    @Test func policyCheckRefusesAMissingColumn() throws {
        let db = try TestDatabase()
        let policy = try writePolicy { $0.replacingOccurrences(of: "personal: [phone, name]", with: "personal: [phone, nickname]") }
        let outcome = try LetheProcess.run(["policy", "check", policy.path, "--database-url", db.conninfo])
        #expect(outcome.status == 65)
        let tableLine = line(of: "- table: sms.contacts", in: policy.text)
        #expect(outcome.stderr.contains("\(policy.path):\(tableLine): tables[1].personal[1]: column sms.contacts.nickname does not exist"))
    }

    @Test func partitionsEnsureAndList() throws {
        let db = try TestDatabase()
        let daily = ["--policy", "Policies/default.yaml"]
        // Daily partitions (the default policy): today and the two days after, for two tables.
        let dry = try LetheProcess.run(["partitions", "ensure", "--ahead", "P2D", "--dry-run", "--database-url", db.conninfo] + daily)
        #expect(dry.status == 0 && dry.stdout.contains("6 partition(s) would create"))
        #expect(try PartitionCount.of(db) == 0)
        let ensure = try LetheProcess.run(["partitions", "ensure", "--ahead", "P2D", "--database-url", db.conninfo] + daily + ["--json"])
        #expect(ensure.status == 0 && ensure.stdout.contains("\"created\""))
        #expect(try PartitionCount.of(db) == 6)
        let again = try LetheProcess.run(["partitions", "ensure", "--ahead", "P2D", "--database-url", db.conninfo] + daily)
        #expect(again.status == 0 && again.stdout.contains("0 partition(s) created, 6 interval(s) already covered"))
        let list = try LetheProcess.run(["partitions", "list", "--database-url", db.conninfo] + daily)
        #expect(list.status == 0 && list.stdout.contains("sms.messages_p") && list.stdout.contains("P1D"))
        #expect(try LetheProcess.run(["partitions", "ensure", "--ahead", "P5Y", "--database-url", db.conninfo] + daily).status == 64)
        #expect(try LetheProcess.run(["partitions", "ensure", "--from", "2026-02-30", "--database-url", db.conninfo]).status == 64)
    }

    @Test func unreachableDatabaseExits69WithoutThePassword() throws {
        let outcome = try LetheProcess.run(["migrate", "--database-url", "postgresql://ops:Pa55word@127.0.0.1:1/sms?connect_timeout=2"])
        #expect(outcome.status == 69)
        #expect(outcome.stderr.contains("cannot connect to PostgreSQL (host=127.0.0.1 port=1 database=sms"))
        #expect(!outcome.stderr.contains("Pa55word") && !outcome.stdout.contains("Pa55word"))
    }

    @Test func jsonLogFormatForErrors() throws {
        let outcome = try LetheProcess.run(["migrate", "--log-format", "json", "--database-url", "host=127.0.0.1 port=1 connect_timeout=2"])
        #expect(outcome.status == 69)
        let line = try #require(outcome.stderr.split(separator: "\n").first)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(object?["log.level"] as? String == "error")
        #expect(object?["lethe.exit_code"] as? Int == 69)
        #expect(object?["ecs.version"] as? String != nil && object?["service.name"] as? String == "lethe")
        #expect((object?["error.message"] as? String)?.contains("cannot connect to PostgreSQL") == true)
    }

    /// With --log-format json every byte on stderr is one JSON object per line, whatever failed: a usage error, a
    /// failed job (its final line at error with error.message, and the report), each with its hint inside (issue 29).
    @Test(arguments: [
        (["purge", "--no-such-flag", "--log-format", "json"], Int32(64)),
        (["purge", "--log-format=json", "--batch-rows", "many"], Int32(64)),
        (["purge", "--log-format", "json", "--database-url", "host=127.0.0.1 port=1 connect_timeout=2"], Int32(69)),
        (["backup", "expire", "--log-format", "json", "--database-url", "host=127.0.0.1 port=1 connect_timeout=2"], Int32(78)),
    ])
    func everyStderrLineIsJSONUnderJSONLogs(_ arguments: [String], _ code: Int32) throws {
        let outcome = try LetheProcess.run(arguments)
        #expect(outcome.status == code, "\(outcome.stderr)")
        let lines = outcome.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(!lines.isEmpty && outcome.stderr.hasSuffix("\n"))
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["ecs.version"] != nil, "not an ECS object: \(line)")
        }
        let last = try #require(try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any])
        #expect(last["log.level"] as? String == "error" && last["lethe.exit_code"] as? Int == Int(code) && last["lethe.hint"] as? String != nil, "\(last)")
    }
}

enum PartitionCount {
    static func of(_ db: TestDatabase) throws -> Int64 {
        try db.connection.query("SELECT count(*) AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'sms' AND c.relkind = 'r'").single("n").int("n")
    }
}
