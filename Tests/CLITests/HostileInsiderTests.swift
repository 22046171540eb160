import Foundation
import Postgres
import TestSupport
import Testing

/// The duty roles attacked as a hostile insider would, with the settings and objects any login can make
/// (issue: hostile insiders). In the least-privilege suite, whose cluster roles are made once.
extension LeastPrivilegeTests {
    /// Session settings every role may change: each turns the text of a bound or a date into something else.
    static let hostileSettings = [
        "SET DateStyle = 'German, MDY'", "SET DateStyle = 'SQL, DMY'", "SET DateStyle = 'Postgres, MDY'",
        "SET IntervalStyle = 'sql_standard'", "SET IntervalStyle = 'iso_8601'",
        "SET TimeZone = 'Pacific/Kiritimati'", "SET TimeZone = 'America/Adak'", "SET search_path = public, lethe, pg_catalog",
    ]

    /// A daily layout of only young partitions (today and the month ahead) and the roles applied.
    func youngPartitions() throws -> TestDatabase {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Default Co')")
        try PurgeFixture.ensurePartitions(db.connection, monthsBack: 0, policy: try PolicyFixture.defaultPolicy())
        try applyRoles(db)
        return db
    }

    /// The partition whose upper bound reads as another, past date when day and month swap (day 1-12, not the month).
    func swappablePartition(_ db: TestDatabase) throws -> String {
        try db.connection.query("""
            SELECT c.oid::regclass::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            CROSS JOIN LATERAL (SELECT to_date(right(c.relname, 10), 'YYYY_MM_DD') + 1 AS upper) u
            WHERE i.inhparent = 'sms.messages'::regclass AND extract(day FROM u.upper) <= 12
              AND extract(day FROM u.upper) <> extract(month FROM u.upper) AND u.upper > now()
            ORDER BY u.upper LIMIT 1
            """).single("swappable partition").string("name")
    }

    @Test func hostileSessionSettingsMakeTheGuardedDropRefuseWhatItRefusesWithout() throws {
        let db = try youngPartitions()
        let young = try swappablePartition(db)
        let run = try db.connection.query("""
            INSERT INTO lethe.purge_runs (started_at, status, policy_hash, ceiling_cutoff, cutoffs, os_user)
            VALUES (now(), 'running', 'x', now() - interval '6 months', '{}', 'test') RETURNING id
            """).single("run").int("id")
        let partitions = { try db.connection.query("SELECT count(*) AS n FROM pg_inherits").single("n").int("n") }
        let before = try partitions()
        for setting in Self.hostileSettings {
            let worker = try PostgresConnection(conninfo: "\(db.conninfo) user=lp_worker")
            try worker.execute(setting)
            do {
                try worker.execute("SELECT lethe.purge_drop_partition('sms.messages', $1::regclass, $2)", [.text(young), .int(run)])
                Issue.record("\(setting): the worker dropped the young partition \(young)")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42501" && error.message.contains("younger than the retention"), "\(setting): \(error)")
            }
            #expect(throws: PostgresError.self, "\(setting): a cutoff of now") {
                try worker.execute("SELECT lethe.purge_delete_rows('sms.messages', 'sms.messages', $1, now(), p_limit => 10)", [.int(run)])
            }
            #expect(throws: PostgresError.self, "\(setting): a cutoff a day past the floor") {
                try worker.execute("""
                    SELECT lethe.purge_delete_rows('sms.messages', 'sms.messages', $1, now() - interval '6 months' + interval '1 day', p_limit => 10)
                    """, [.int(run)])
            }
        }
        #expect(try partitions() == before, "no partition left")
        #expect(try db.connection.query("SELECT to_regclass($1) IS NOT NULL AS p", [.text(young)]).single("p").bool("p"))
    }

    /// Every SECURITY DEFINER function, those of later migrations too, pins the settings that change what text means.
    @Test func everyGuardedFunctionPinsTheSettingsThatChangeWhatTextMeans() throws {
        let db = try TestDatabase()
        let unpinned = try db.connection.query("""
            SELECT p.oid::regprocedure::text AS name FROM pg_proc p
            WHERE p.pronamespace = 'lethe'::regnamespace AND p.prosecdef
              AND NOT (coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp', 'TimeZone=UTC', 'DateStyle=ISO, YMD',
                                                            'IntervalStyle=postgres'])
            ORDER BY 1
            """).rows.map { try $0.string("name") }
        #expect(unpinned.isEmpty, "SECURITY DEFINER functions without pinned settings: \(unpinned)")
        let guarded = try db.connection.query("SELECT count(*) AS n FROM pg_proc WHERE pronamespace = 'lethe'::regnamespace AND prosecdef")
            .single("n").int("n")
        #expect(guarded >= 7, "the guarded functions are there to check")
    }

    /// The operator administers rows, never the code that runs as the tables' owner: it cannot attach a trigger to
    /// a table that a SECURITY DEFINER function writes, and `roles check` finds one that someone else planted.
    @Test func theOperatorCannotPlantATriggerAndRolesCheckFindsOne() throws {
        let db = try TestDatabase()
        try applyRoles(db)
        let operator_ = try PostgresConnection(conninfo: "\(db.conninfo) user=lp_operator")
        try operator_.execute("""
            CREATE FUNCTION lethe.rewrite_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.action := 'nothing'; RETURN NEW; END $$
            """)
        for table in ["lethe.audit_log", "lethe.tombstones", "lethe.legal_holds", "lethe.purge_run_items"] {
            do {
                try operator_.execute("CREATE TRIGGER planted BEFORE INSERT ON \(table) FOR EACH ROW EXECUTE FUNCTION lethe.rewrite_audit()")
                Issue.record("the operator attached a trigger to \(table)")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42501", "\(table): \(error)")
            }
            #expect(throws: PostgresError.self, "TRUNCATE \(table)") { try operator_.execute("TRUNCATE \(table)") }
        }
        let privileges = try db.connection.query("""
            SELECT c.oid::regclass::text || ' ' || p.name AS line FROM pg_class c
            CROSS JOIN (VALUES ('TRIGGER'), ('REFERENCES'), ('TRUNCATE')) p(name)
            WHERE c.relnamespace = 'lethe'::regnamespace AND c.relkind IN ('r', 'p') AND has_table_privilege('lethe_operator', c.oid, p.name)
            """).rows.map { try $0.string("line") }
        #expect(privileges.isEmpty, "\(privileges)")

        let clean = try LetheProcess.run(["roles", "check"] + url(db, "lp_auditor"))
        #expect(clean.status == 0 && !clean.stdout.contains("UNSAFE"), "\(clean.stdout)\(clean.stderr)")
        // Planted by someone who could (the owner's login, an earlier grant): found, named, exit 1.
        try db.connection.execute("CREATE TRIGGER planted BEFORE INSERT ON lethe.audit_log FOR EACH ROW EXECUTE FUNCTION lethe.rewrite_audit()")
        try db.connection.execute("GRANT TRUNCATE ON lethe.tombstones TO lethe_dpo")
        let found = try LetheProcess.run(["roles", "check", "--json"] + url(db, "lp_auditor"))
        #expect(found.status == 1, "\(found.stderr)")
        #expect(found.stdout.contains("trigger planted on lethe.audit_log") && found.stdout.contains("lethe_dpo holds TRUNCATE on lethe.tombstones"),
                "\(found.stdout)")
        #expect(found.stderr.contains("HINT:"))
        try db.connection.execute("DROP TRIGGER planted ON lethe.audit_log")
        _ = try LeastPrivilegeTests.clusterRoles.value()
        #expect(try LetheProcess.run(["roles", "apply", "--database-url", db.conninfo]).status == 0)
        #expect(try LetheProcess.run(["roles", "check"] + url(db, "lp_auditor")).status == 0, "roles apply revoked what the design does not give")
    }

    /// The DPO's attack (issue 28 item 5): plain SQL on its registers, with no audit record. Every direct write is
    /// refused; its duties (hold, retention, requests, erasure) still work through the CLI, each leaving a record.
    @Test func theDPOChangesItsRegistersOnlyThroughAuditedFunctions() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Other')")
        try applyRoles(db)
        let dpo = url(db, "lp_dpo")
        for arguments in [["hold", "add", "--customer", "1", "--reason", "court order 9"], ["retention", "set", "--customer", "2", "--period", "P30D", "--reason", "clause 7"],
                          ["requests", "open", "--kind", "erasure", "--reference", "T-1"], ["requests", "extend", "1", "--reason", "complex"]] {
            let done = try LetheProcess.run(arguments + dpo)
            #expect(done.status == 0, "\(arguments.joined(separator: " ")): \(done.stderr)")
        }
        let records = { try db.connection.query("SELECT count(*) AS n FROM lethe.audit_log").single("n").int("n") }
        let before = try records()
        #expect(before >= 4)
        let login = try PostgresConnection(conninfo: "\(db.conninfo) user=lp_dpo")
        let attacks = [
            "DELETE FROM lethe.legal_holds", "UPDATE lethe.legal_holds SET released_at = now()",
            "DELETE FROM lethe.requests", "UPDATE lethe.requests SET closed_at = now()",
            "DELETE FROM lethe.tombstones", "DELETE FROM lethe.tombstone_rows",
            "UPDATE lethe.retention_overrides SET period_interval = interval '1 second'",
            "INSERT INTO lethe.retention_overrides (customer_id, period, period_interval, reason, set_by_os_user) VALUES (1, 'P6M', interval '1 second', 'x', 'x')",
            "DELETE FROM lethe.retention_overrides", "UPDATE lethe.customer_keys SET shredded_at = NULL",
        ]
        for attack in attacks {
            do {
                try login.execute(attack)
                Issue.record("the DPO login ran: \(attack)")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42501", "\(attack): \(error)")
            }
        }
        // The interval is derived from the text in the database, whatever the caller meant.
        try login.execute("SELECT lethe.retention_set(1, 'P6M', 'contract', 'mallory')")
        let stored = try db.connection.query("SELECT period_interval = interval '6 months' AS same FROM lethe.retention_overrides WHERE customer_id = 1").single("override")
        #expect(try stored.bool("same"))
        #expect(throws: PostgresError.self, "above the ceiling") { try login.execute("SELECT lethe.retention_set(1, 'P1Y', 'contract', 'mallory')") }
        #expect(try records() == before + 1, "the function wrote its audit record")
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.legal_holds WHERE released_at IS NULL").single("n").int("n") == 1)
        let release = try LetheProcess.run(["hold", "release", "--customer", "1"] + dpo)
        #expect(release.status == 0, "\(release.stderr)")
        let verify = try LetheProcess.run(["audit", "verify"] + url(db, "lp_auditor"))
        #expect(verify.status == 0, "\(verify.stderr)")
    }
}
