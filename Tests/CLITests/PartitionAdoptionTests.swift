import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 30, what to build 8: `lethe partitions adopt` turns an unpartitioned table into the daily layout while the
/// application inserts: the old table becomes the first partition (same relation, same file: nothing rewritten or
/// copied), its sequence, grants and indexes carry over, later rows land in daily partitions, and the purge goes on.
@Suite struct PartitionAdoptionTests {
    static let tables = """
          - table: public.sent_log
            timestamp: sent_at
            timestamp_zone: UTC
            customer: account_id
            retention: P6M
            operational: [body]
            partitioning: { interval: P1D, ahead: P3D }
        """

    @Test func anUnpartitionedTableIsPartitionedInPlaceWhileTheApplicationInserts() throws {
        let db = try TestDatabase(migrated: false)
        let directory = try IntakeFixture.directory()
        let policy = try PolicyFixture.adoptedPolicyFile(tables: Self.tables, in: directory)
        try db.connection.executeScript("""
            CREATE TABLE public.sent_log (id serial PRIMARY KEY, account_id bigint, sent_at timestamp NOT NULL, body text);
            CREATE INDEX sent_log_sent_at ON public.sent_log (sent_at);
            INSERT INTO public.sent_log (account_id, sent_at, body)
                SELECT i % 3, (now() AT TIME ZONE 'UTC') - (i % 240) * interval '1 day', 'statut ' || i FROM generate_series(1, 3000) i;
            GRANT SELECT ON public.sent_log TO PUBLIC;
            """)
        let keyless = ["--policy", policy, "--database-url", db.conninfo]
        #expect(try LetheProcess.run(["migrate"] + keyless).status == 0)
        let before = try db.connection.query("SELECT oid::bigint AS oid, relfilenode::bigint AS file FROM pg_class WHERE oid = 'public.sent_log'::regclass").single("table")
        let writer = try ContinuousWriter(conninfo: db.conninfo, statements: [
            "INSERT INTO public.sent_log (account_id, sent_at, body) VALUES (1, now() AT TIME ZONE 'UTC', 'live')",
        ])
        var stopped = false
        defer { if !stopped { _ = writer.stop() } }

        let dry = try LetheProcess.run(["partitions", "adopt", "--table", "public.sent_log", "--dry-run"] + keyless)
        #expect(dry.status == 0 && dry.stdout.contains("would partition public.sent_log") && dry.stdout.contains("FROM (MINVALUE)"), "\(dry.stdout) \(dry.stderr)")
        #expect(try db.connection.query("SELECT relkind::text AS k FROM pg_class WHERE oid = 'public.sent_log'::regclass").single("k").string("k") == "r", "a dry run changes nothing")

        let adopt = try LetheProcess.run(["partitions", "adopt", "--table", "public.sent_log"] + keyless)
        #expect(adopt.status == 0 && adopt.stdout.contains("is partitioned"), "\(adopt.stdout) \(adopt.stderr)")
        let after = try db.connection.query("""
            SELECT p.relkind::text AS kind, o.relname AS old, o.relfilenode::bigint AS file, pg_get_expr(o.relpartbound, 0) AS bound,
                   (SELECT count(*) FROM pg_inherits WHERE inhparent = p.oid) AS partitions
            FROM pg_class p, pg_class o WHERE p.oid = 'public.sent_log'::regclass AND o.oid = \(.int(try before.int("oid")))::oid
            """).single("tables")
        #expect(try after.string("kind") == "p" && after.string("old") == "sent_log_p_adopted" && after.int("file") == before.int("file"),
                "the old table is the first partition, its file untouched")
        let bound = try after.string("bound")
        #expect(try bound.hasPrefix("FOR VALUES FROM (MINVALUE) TO (") && after.int("partitions") >= 2, "\(bound)")
        // A row past the old partition's bound goes to a daily partition; ids keep coming from the same sequence,
        // now owned by the parent (dropping the old partition later must not drop it).
        let later = try db.connection.query("""
            INSERT INTO public.sent_log (account_id, sent_at, body) VALUES (1, (now() AT TIME ZONE 'UTC') + interval '7 days 12 hours', 'later')
            RETURNING tableoid::regclass::text AS part, id
            """).single("row")
        let part = try later.string("part")
        #expect(try part.hasPrefix("sent_log_p20") && later.int("id") > 3000, "\(part)")
        #expect(try db.connection.query("""
            SELECT d.refobjid::regclass::text AS owner FROM pg_depend d WHERE d.objid = 'public.sent_log_id_seq'::regclass AND d.deptype = 'a'
            """).single("owner").string("owner") == "sent_log")
        #expect(try db.connection.query("SELECT has_table_privilege('public', 'public.sent_log', 'SELECT') AS g").single("g").bool("g"), "grants carried over")
        #expect(try db.connection.query("SELECT count(*) AS n FROM pg_indexes WHERE tablename = 'sent_log' AND indexdef LIKE '%(sent_at)%'").single("n").int("n") == 1,
                "the time index on the parent")

        #expect(try LetheProcess.run(["policy", "check"] + keyless).status == 0)
        let purge = try LetheProcess.run(["purge"] + keyless)
        #expect(purge.status == 0, "\(purge.stdout) \(purge.stderr)")
        let oldest = try db.connection.query("SELECT max(extract(epoch FROM (now() AT TIME ZONE 'UTC') - sent_at) / 86400)::int AS d FROM public.sent_log").single("d").int("d")
        #expect(oldest <= 184 && oldest >= 180, "purged row by row in the old partition: \(oldest)")
        let again = try LetheProcess.run(["partitions", "adopt", "--table", "public.sent_log"] + keyless)
        #expect(again.status == 0 && again.stdout.contains("already partitioned"))

        let outcome = writer.stop()
        stopped = true
        #expect(outcome.errors.isEmpty && outcome.longestSeconds < 1.0, "\(outcome.errors.prefix(2)) longest \(outcome.longestSeconds) s")
    }

    /// The old partition goes once all of it is past the cutoff: dropped whole like any other (its sequence, owned
    /// by the parent now, stays). A killed run left its CHECK validated; the rerun takes that bound.
    @Test func theOldPartitionIsDroppedOnceWhollyPastTheCutoff() throws {
        let db = try TestDatabase(migrated: false)
        let directory = try IntakeFixture.directory()
        let policy = try PolicyFixture.adoptedPolicyFile(tables: Self.tables, in: directory)
        let bound = try db.connection.query("SELECT date_trunc('day', (now() AT TIME ZONE 'UTC') - interval '190 days')::text AS b").single("bound").string("b")
        try db.connection.executeScript("""
            CREATE TABLE public.sent_log (id serial PRIMARY KEY, account_id bigint, sent_at timestamp NOT NULL, body text);
            INSERT INTO public.sent_log (account_id, sent_at, body)
                SELECT 1, (now() AT TIME ZONE 'UTC') - interval '200 days' - i * interval '1 hour', 'ancien' FROM generate_series(1, 500) i;
            ALTER TABLE public.sent_log ADD CONSTRAINT lethe_adopt_range CHECK (sent_at IS NOT NULL AND sent_at < '\(bound)') NOT VALID;
            """)
        let keyless = ["--policy", policy, "--database-url", db.conninfo]
        #expect(try LetheProcess.run(["migrate"] + keyless).status == 0)
        let adopt = try LetheProcess.run(["partitions", "adopt", "--table", "public.sent_log"] + keyless)
        #expect(adopt.status == 0, "\(adopt.stdout) \(adopt.stderr)")
        #expect(try db.connection.query("INSERT INTO public.sent_log (account_id, sent_at, body) VALUES (1, now() AT TIME ZONE 'UTC', 'neuf') RETURNING id").single("id").int("id") == 501)
        let purge = try LetheProcess.run(["purge", "--json"] + keyless)
        #expect(purge.status == 0, "\(purge.stderr)")
        #expect(try db.connection.query("SELECT to_regclass('public.sent_log_p_adopted') IS NULL AS gone").single("gone").bool("gone"), "dropped whole")
        #expect(try db.connection.query("SELECT coalesce(sum(rows_deleted), 0)::bigint AS n FROM lethe.purge_run_items").single("n").int("n") == 500, "counted in the ledger")
        #expect(try db.connection.query("INSERT INTO public.sent_log (account_id, sent_at, body) VALUES (1, now() AT TIME ZONE 'UTC', 'neuf') RETURNING id").single("id").int("id") == 502,
                "the sequence outlived the old partition")
    }

    @Test func aTableWithATriggerIsRefusedAndLeftAsItWas() throws {
        let db = try TestDatabase(migrated: false)
        let directory = try IntakeFixture.directory()
        let policy = try PolicyFixture.adoptedPolicyFile(tables: Self.tables, in: directory)
        try db.connection.executeScript("""
            CREATE TABLE public.sent_log (id serial PRIMARY KEY, account_id bigint, sent_at timestamp NOT NULL, body text);
            CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
            CREATE TRIGGER sent_log_touch BEFORE INSERT ON public.sent_log FOR EACH ROW EXECUTE FUNCTION public.touch();
            """)
        let keyless = ["--policy", policy, "--database-url", db.conninfo]
        #expect(try LetheProcess.run(["migrate"] + keyless).status == 0)
        let refused = try LetheProcess.run(["partitions", "adopt", "--table", "public.sent_log"] + keyless)
        #expect(refused.status == 78 && refused.stderr.contains("trigger sent_log_touch") && refused.stderr.contains("HINT:"), "\(refused.status) \(refused.stderr)")
        #expect(try db.connection.query("SELECT relkind::text AS k FROM pg_class WHERE oid = 'public.sent_log'::regclass").single("k").string("k") == "r")
        #expect(try db.connection.query("SELECT count(*) AS n FROM pg_constraint WHERE conname = 'lethe_adopt_range'").single("n").int("n") == 0)
    }
}
