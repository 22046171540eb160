import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 30, defect 7: partition keys that are not a `timestamptz`. A `date` (or `timestamp`) key is read as UTC
/// and laid out like any other; a key Lethe cannot read as the policy's time (an `id`, another column) is named
/// by `partitions ensure` with its table, column and type, and purged row by row, saying so.
@Suite struct PartitionKeyTests {
    @Test func aDateKeyIsLaidOutAndDroppedAndAnIdKeyIsNamedAndSweptRowByRow() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let policy = try PolicyFixture.adoptedPolicyFile(tables: """
              - table: public.log_date
                timestamp: created_on
                customer: account_id
                retention: P6M
                operational: [status]
                partitioning: { interval: P1D, ahead: P3D }
                backup: true
                category: Log by day
              - table: public.log_id
                timestamp: created_at
                customer: account_id
                retention: P6M
                operational: [status]
                partitioning: { interval: P1D, ahead: P3D }
                backup: true
                category: Log by id
            """, in: directory)
        try db.connection.execute("CREATE TABLE public.log_date (id bigint, account_id bigint, created_on date NOT NULL, status text) PARTITION BY RANGE (created_on)")
        try db.connection.execute("CREATE TABLE public.log_id (id bigint NOT NULL, account_id bigint, created_at timestamptz NOT NULL, status text) PARTITION BY RANGE (id)")
        try db.connection.execute("CREATE TABLE public.log_id_low PARTITION OF public.log_id FOR VALUES FROM (0) TO (1000)")
        // A day eight months back, by hand, as the application left it.
        try db.connection.execute("""
            DO $$ DECLARE d date := (now() - interval '8 months')::date; BEGIN
                EXECUTE format('CREATE TABLE public.log_date_old PARTITION OF public.log_date FOR VALUES FROM (%L) TO (%L)', d, d + 1);
            END $$
            """)
        let options = ["--policy", policy, "--database-url", db.conninfo]
        let ensure = try LetheProcess.run(["partitions", "ensure"] + options)
        #expect(ensure.status == 78, "\(ensure.stdout) \(ensure.stderr)")
        #expect(ensure.stderr.contains("public.log_id is partitioned by id (bigint), not by its policy timestamp column created_at"), "\(ensure.stderr)")
        #expect(ensure.stderr.contains("HINT:") && !ensure.stderr.contains("withheld"), "\(ensure.stderr)")
        try db.connection.execute("INSERT INTO public.log_date VALUES (1, 1, current_date, 'sent'), (2, 1, (now() - interval '8 months')::date, 'sent')")
        try db.connection.execute("INSERT INTO public.log_id VALUES (1, 1, now(), 'sent'), (2, 1, now() - interval '8 months', 'sent')")
        let list = try LetheProcess.run(["partitions", "list"] + options)
        #expect(list.status == 0 && list.stdout.contains("public.log_date_p"), "\(list.stdout)")
        #expect(!list.stdout.split(separator: "\n").contains { $0.contains("log_date") && $0.contains("(unreadable)") }, "a date key's bounds are read: \(list.stdout)")
        let purge = try LetheProcess.run(["purge", "--json"] + options)
        #expect(purge.status == 0, "\(purge.stderr)")
        #expect(purge.stdout.contains("public.log_date_old"), "the old day goes by partition: \(purge.stdout.prefix(3000))")
        #expect(purge.stderr.contains("public.log_id is partitioned by id (bigint)") && purge.stderr.contains("row by row"), "said, not silent: \(purge.stderr)")
        #expect(try db.connection.query("SELECT count(*) AS n FROM public.log_id").single("n").int("n") == 1, "the old row is deleted row by row")
        #expect(try db.connection.query("SELECT to_regclass('public.log_id_low') IS NOT NULL AS kept").single("k").bool("kept"), "no partition of an id key is dropped")
        #expect(try db.connection.query("SELECT count(*) AS n FROM public.log_date").single("n").int("n") == 1)
    }
}
