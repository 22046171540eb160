import Foundation
import Postgres
import TestSupport
import Testing

/// The purge's promises about time and concurrency, with every interruption at a known point: a lock held by
/// a second connection stops the purge where the test wants it (an open transaction there would also hold up a
/// partition's concurrent detach, so the stopped runs are scoped to the row-wise table).
@Suite struct PurgePromiseTests {
    /// 30,000 contacts fill about 200 heap blocks: the purge's first range (128 blocks) and then ranges of about
    /// 20 blocks, so a row three quarters of the way in is met mid-run, after batches have committed.
    static let contacts = 30_000, messages = 3_000
    /// Where the stopped runs meet their locked row.
    static let stoppingId = Int64(contacts * 3 / 4)

    func loaded() throws -> TestDatabase {
        let db = try TestDatabase()
        try PurgeFixture.loadLarge(db.connection, contacts: Self.contacts, messages: Self.messages)
        return db
    }

    @Test func purgeWaitBlocksUntilTheOtherRunEndsWithoutWaitItExits75() throws {
        let db = try loaded()
        let holder = try db.newConnection()
        try holder.advisoryLock(.purge)
        let refused = try LetheProcess.run(["purge", "--database-url", db.conninfo])
        #expect(refused.status == 75 && refused.stderr.contains("--wait"), "\(refused.stderr)")
        let waiting = try RunningLethe(["purge", "--wait", "--database-url", db.conninfo])
        #expect(try KnownPoint.waitForLockWait(holder, database: db.name, queryContains: "pg_advisory_lock"), "purge --wait is blocked on the lock")
        #expect(waiting.isRunning)
        try holder.advisoryUnlock(.purge)
        let outcome = waiting.wait()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(try PurgeFixture.survivingIds(db.connection) == PurgeFixture.expectedLargeSurvivors(db.connection, contacts: Self.contacts, messages: Self.messages))
    }

    @Test func aHoldWhoseUntilHasPassedNoLongerProtects() throws {
        let db = try loaded()
        #expect(try LetheProcess.run(["hold", "add", "--customer", "3", "--reason", "case 12", "--database-url", db.conninfo]).status == 0)
        try db.connection.execute("UPDATE lethe.legal_holds SET until = now() - interval '1 day' WHERE customer_id = 3")
        let outcome = try LetheProcess.run(["purge", "--database-url", db.conninfo])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(try PurgeFixture.survivingIds(db.connection) == PurgeFixture.expectedLargeSurvivors(db.connection, contacts: Self.contacts, messages: Self.messages))
        // And one still running protects everything of its customer.
        let second = try loaded()
        #expect(try LetheProcess.run(["hold", "add", "--customer", "3", "--reason", "case 13", "--until", "2099-01-01", "--database-url", second.conninfo]).status == 0)
        #expect(try LetheProcess.run(["purge", "--database-url", second.conninfo]).status == 0)
        #expect(try PurgeFixture.survivingIds(second.connection)
                == PurgeFixture.expectedLargeSurvivors(second.connection, contacts: Self.contacts, messages: Self.messages, held: [3]))
    }

    /// The purge is stopped on a row of customer 3 mid-table; a hold on customer 3 is placed then. Rows deleted
    /// before the hold are gone; every row of customer 3 that remained when the hold committed survives the run.
    @Test func aHoldPlacedDuringAPurgeProtectsTheRowsNotYetDeleted() throws {
        let db = try loaded()
        let blocker = try db.newConnection()
        try blocker.execute("BEGIN")
        let gate = try blocker.query("""
            SELECT id FROM sms.contacts WHERE customer_id = 3 AND created_at < now() - interval '250 days' AND id > $1 ORDER BY id LIMIT 1 FOR UPDATE
            """, [.int(Self.stoppingId)]).single("id").int("id")
        // Only the row-wise table: a partition's concurrent detach would wait for the blocker's open transaction.
        let purge = try RunningLethe(["purge", "--table", "sms.contacts", "--batch-rows", "2000", "--lock-timeout", "60000", "--database-url", db.conninfo])
        #expect(try KnownPoint.waitForLockWait(blocker, database: db.name, queryContains: "DELETE"), "the purge reached the locked row")
        let hold = try RunningLethe(["hold", "add", "--customer", "3", "--reason", "placed mid-run", "--database-url", db.conninfo])
        // The hold waits for the purge's current batch (holds are frozen per batch); then the row lock goes.
        #expect(try KnownPoint.waitForLockWait(blocker, database: db.name, queryContains: "lethe.hold_place"), "the hold waits for the batch")
        try blocker.execute("ROLLBACK")
        #expect(hold.wait().status == 0)
        let remainingAtHold = try db.connection.query("SELECT id FROM sms.contacts WHERE customer_id = 3 ORDER BY id").rows.map { try $0.int("id") }
        let outcome = purge.wait()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let after = try db.connection.query("SELECT id FROM sms.contacts WHERE customer_id = 3 ORDER BY id").rows.map { try $0.int("id") }
        #expect(after == remainingAtHold, "no row of customer 3 was deleted once the hold was placed")
        let oldKept = try db.connection.query("SELECT count(*) AS n FROM sms.contacts WHERE customer_id = 3 AND created_at < now() - interval '7 months'")
            .single("n").int("n")
        #expect(oldKept > 0, "old rows of customer 3 beyond the stopping point were kept")
        let deletedBefore = try db.connection.query("""
            SELECT count(*) AS n FROM generate_series(1, $1) g WHERE 1 + g % 3 = 3 AND g < $2 AND (g % 360) + 0.5 > 200
              AND NOT EXISTS (SELECT 1 FROM sms.contacts c WHERE c.id = g)
            """, [.int(Int64(Self.contacts)), .int(gate)]).single("n").int("n")
        #expect(deletedBefore > 0, "rows of customer 3 before the stopping point were deleted before the hold")
    }

    /// Killed while a batch waits on a locked row: the ledger shows the run as running, the next run marks it
    /// interrupted and finishes, and the end state is the fixture's expectation.
    @Test func aPurgeKilledAtAKnownPointIsFinishedByTheNextRun() throws {
        let db = try loaded()
        let blocker = try db.newConnection()
        try blocker.execute("BEGIN")
        try blocker.execute("SELECT id FROM sms.contacts WHERE customer_id = 1 AND created_at < now() - interval '250 days' AND id > $1 ORDER BY id LIMIT 1 FOR UPDATE",
                            [.int(Self.stoppingId)])
        // Only the row-wise table: a partition's concurrent detach would wait for the blocker's open transaction.
        let purge = try RunningLethe(["purge", "--table", "sms.contacts", "--batch-rows", "2000", "--lock-timeout", "60000", "--database-url", db.conninfo])
        guard try KnownPoint.waitForLockWait(blocker, database: db.name, queryContains: "DELETE", seconds: 20) else {
            Issue.record("\(KnownPoint.activity(try db.newConnection(), database: db.name))")
            purge.kill()
            let outcome = purge.wait()
            Issue.record("the purge did not stop on the locked row: \(outcome.status) \(outcome.stdout) \(outcome.stderr)")
            return
        }
        let deletedSoFar = try blocker.query("SELECT coalesce(sum(rows_deleted), 0)::bigint AS n FROM lethe.purge_run_items").single("n").int("n")
        purge.kill()
        purge.wait()
        try blocker.execute("ROLLBACK")
        #expect(deletedSoFar > 0, "batches before the stopping point had committed")
        #expect(try db.connection.query("SELECT status FROM lethe.purge_runs").single("run").string("status") == "running")

        let rerun = try LetheProcess.run(["purge", "--json", "--database-url", db.conninfo])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("\"interruptedRunsFound\" : [\n    1\n  ]"))
        #expect(try PurgeFixture.survivingIds(db.connection) == PurgeFixture.expectedLargeSurvivors(db.connection, contacts: Self.contacts, messages: Self.messages))
        let statuses = try db.connection.query("SELECT status FROM lethe.purge_runs ORDER BY id").rows.map { try $0.string("status") }
        #expect(statuses == ["interrupted", "completed"])
        #expect(try LetheProcess.run(["audit", "verify", "--database-url", db.conninfo]).status == 0)
    }
}
