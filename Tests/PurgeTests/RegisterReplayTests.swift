import Foundation
import Postgres
import Purge
import TestSupport
import Testing

/// A restore's replay of the registers `Purge` owns copies whole records: a column a migration adds (here one
/// added by hand to both databases) arrives with them, as do the release columns the old column list dropped,
/// and the holds' id sequence moves past every copied id.
@Suite struct RegisterReplayTests {
    @Test func overridesAndHoldsArriveWholeWithColumnsAddedLater() throws {
        let live = try TestDatabase()
        let target = try TestDatabase()
        for db in [live, target] {
            try db.connection.execute("ALTER TABLE lethe.retention_overrides ADD COLUMN contract_ref text")
            try db.connection.execute("ALTER TABLE lethe.legal_holds ADD COLUMN court text")
        }
        try live.connection.execute("""
            INSERT INTO lethe.retention_overrides (customer_id, period, period_interval, reason, set_by_os_user, contract_ref)
            VALUES (7, 'P30D', 'P30D', 'clause 7', 'alice', 'C-114')
            """)
        try live.connection.execute("""
            INSERT INTO lethe.legal_holds (id, customer_id, reason, placed_by_os_user, released_at, released_by_db_user, released_by_os_user, court)
            VALUES (41, 7, 'order', 'bob', now(), 'lethe_dpo', 'carol', 'Paris'), (42, 7, 'second order', 'bob', NULL, NULL, NULL, 'Lyon')
            """)
        try target.connection.execute("INSERT INTO lethe.retention_overrides (customer_id, period, period_interval, reason, set_by_os_user) VALUES (8, 'P5M', 'P5M', 'stale', 'x')")

        let overrides = try RetentionOverrides.snapshot(live.connection)
        let holds = try LegalHolds.snapshot(live.connection)
        try target.connection.transaction {
            try RetentionOverrides.replay(overrides, into: target.connection)
            try LegalHolds.replay(holds, into: target.connection)
        }
        let copied = try target.connection.query("SELECT customer_id, contract_ref, period_interval::text AS p FROM lethe.retention_overrides").rows
        #expect(copied.count == 1, "the target's own override is replaced, not kept")
        #expect(try copied.first?.string("contract_ref") == "C-114" && copied.first?.int("customer_id") == 7)
        let released = try target.connection.query("SELECT released_by_os_user, court FROM lethe.legal_holds WHERE id = 41").single("hold 41")
        #expect(try released.string("released_by_os_user") == "carol" && released.string("court") == "Paris")
        let next = try target.connection.query("""
            INSERT INTO lethe.legal_holds (customer_id, reason, placed_by_os_user) VALUES (9, 'new', 'dave') RETURNING id
            """).single("new hold").int("id")
        #expect(next > 42, "the sequence is past every copied id: \(next)")
    }
}
