import Foundation
import LetheCore
import Policy
import Postgres
import Purge
import TestSupport
import Testing

/// Rows a fraction of a second either side of every cutoff (issue 34: every other fixture sits days away): the
/// table's (six months), a customer's shortened retention (30 days), an active hold and a hold whose `until` has
/// just passed. The purge's own recorded cutoffs are the judge: a row goes iff it is older than its cutoff.
@Suite struct PurgeBoundaryTests {
    @Test func rowsASecondEitherSideOfEachCutoffGoOrStayByTheRecordedCutoff() throws {
        let db = try TestDatabase()
        let c = db.connection
        let policy = try PolicyFixture.monthlyPolicy()
        try c.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'default'), (2, 'short'), (3, 'held'), (4, 'hold ended')")
        try PurgeFixture.ensurePartitions(c, monthsBack: 8, policy: policy)
        try RetentionOverrides(c, policy: policy).set(customer: 2, period: "P30D", reason: "boundary")
        try c.execute("""
            INSERT INTO lethe.legal_holds (customer_id, reason, until, placed_by_os_user) VALUES
                (3, 'active', now() + interval '1 hour', 'test'), (4, 'ended a second ago', now() - interval '1 second', 'test')
            """)
        // 81 rows per customer, a quarter second apart, centred on where its cutoff will be a few seconds from now.
        try c.execute("CREATE TABLE public.boundary_rows (id bigint, customer_id bigint, created_at timestamptz)")
        try c.execute("""
            WITH base AS (SELECT now() + interval '3 seconds' AS t),
            placed AS (
                INSERT INTO sms.contacts (customer_id, phone, created_at)
                SELECT customer, '\\x03'::bytea,
                       (SELECT t FROM base) - CASE WHEN customer = 2 THEN interval '30 days' ELSE interval '6 months' END + k * interval '250 milliseconds'
                FROM generate_series(1, 4) customer, generate_series(-40, 40) k
                RETURNING id, customer_id, created_at)
            INSERT INTO public.boundary_rows SELECT * FROM placed
            """)
        let report = try PurgeJob(c, policy: policy).run(scope: PurgeScope(), wait: false)
        #expect(report.checkPassed)
        let cutoffs = try c.query("""
            SELECT cutoffs->'tables'->'sms.contacts'->>'table_cutoff' AS table_cutoff,
                   cutoffs->'tables'->'sms.contacts'->'customers'->>'2' AS short_cutoff
            FROM lethe.purge_runs WHERE id = $1
            """, [.int(report.runId ?? 0)]).single("run")
        let tableCutoff = try cutoffs.string("table_cutoff"), shortCutoff = try cutoffs.string("short_cutoff")
        let judged = try c.query("""
            WITH judged AS (
                SELECT b.customer_id, b.created_at,
                       CASE b.customer_id WHEN 2 THEN $2::timestamptz ELSE $1::timestamptz END AS cutoff,
                       EXISTS (SELECT 1 FROM sms.contacts s WHERE s.id = b.id) AS kept
                FROM public.boundary_rows b)
            SELECT count(*) FILTER (WHERE kept <> (customer_id = 3 OR created_at >= cutoff)) AS wrong,
                   count(*) FILTER (WHERE customer_id <> 3 AND created_at < cutoff AND created_at >= cutoff - interval '1 second') AS just_older,
                   count(*) FILTER (WHERE customer_id <> 3 AND created_at >= cutoff AND created_at < cutoff + interval '1 second') AS just_younger,
                   count(*) FILTER (WHERE customer_id = 3 AND created_at < cutoff) AS held_older
            FROM judged
            """, [.text(tableCutoff), .text(shortCutoff)]).single("judged")
        #expect(try judged.int("wrong") == 0, "rows kept or removed against their cutoff")
        #expect(try judged.int("just_older") >= 3 && judged.int("just_younger") >= 3, "rows within a second either side of the cutoffs")
        #expect(try judged.int("held_older") > 0, "the active hold kept rows past the cutoff")
    }
}
