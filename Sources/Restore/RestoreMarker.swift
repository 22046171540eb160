import Foundation
import LetheCore
import Postgres

/// Keeps a restored database out of the application's reach until the erasure replay has finished, and lets a
/// rerun finish a restore that was killed. Before pg_restore, `lethe_restore.pending` is written in the target
/// (a schema no backup holds) and CONNECT is revoked from PUBLIC; both are undone, with the restore's audit
/// record, in the transaction that ends the restore. A kill anywhere leaves either the target as it was, or the
/// marker with CONNECT revoked; the next `lethe restore` of the same backup sees the marker and carries on.
struct RestoreMarker {
    let target: PostgresConnection

    struct Pending {
        let backupId: String
        /// Schemas a --clean restore set aside, dropped once the restore is finished.
        let setAside: [String]
        /// The backup's data committed (the replay may still be to do).
        let dataLoaded: Bool
    }

    func pending() throws -> Pending? {
        let exists = try target.query("SELECT to_regclass('lethe_restore.pending') IS NOT NULL AS e").single("marker").bool("e")
        guard exists else { return nil }
        let loaded = try target.query("""
            SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'lethe_restore.pending'::regclass AND attname = 'data_loaded') AS known
            """).single("marker").bool("known")
        guard let row = try target.query("SELECT backup_id, set_aside, \(loaded ? "data_loaded" : "true AS data_loaded" as SQL) FROM lethe_restore.pending").first else { return nil }
        let aside = try row.optionalString("set_aside") ?? "{}"
        return Pending(backupId: try row.string("backup_id"),
                       setAside: aside.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",").map(String.init),
                       dataLoaded: try row.bool("data_loaded"))
    }

    /// Written and committed before pg_restore starts. Revokes PUBLIC's CONNECT (remembering whether it had it)
    /// when `isolate`: a full restore into a database the application will use.
    func begin(backupId: String, isolate: Bool) throws {
        try target.transaction {
            try target.execute("CREATE SCHEMA IF NOT EXISTS lethe_restore")
            try target.execute("""
                CREATE TABLE IF NOT EXISTS lethe_restore.pending (
                    backup_id text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(),
                    public_could_connect boolean NOT NULL, set_aside text[] NOT NULL DEFAULT '{}')
                """)
            try target.execute("ALTER TABLE lethe_restore.pending ADD COLUMN IF NOT EXISTS data_loaded boolean NOT NULL DEFAULT false")
            let existing = try target.query("SELECT count(*) AS n FROM lethe_restore.pending").single("marker").int("n")
            if existing == 0 {
                let could = try target.query("SELECT has_database_privilege('public', current_database(), 'CONNECT') AS c").single("connect").bool("c")
                try target.execute("INSERT INTO lethe_restore.pending (backup_id, public_could_connect) VALUES (\(.text(backupId)), \(.bool(could)))")
            }
            if isolate {
                try target.execute("REVOKE CONNECT ON DATABASE \(try SQLIdentifier(target.target.database)) FROM PUBLIC")
            }
        }
    }

    /// In the transaction that loads the backup's data: a rerun after a kill then only replays.
    func markLoaded() throws {
        try target.execute("UPDATE lethe_restore.pending SET data_loaded = true")
    }

    func recordSetAside(_ schemas: [SQLIdentifier]) throws {
        guard !schemas.isEmpty else { return }
        try target.execute("UPDATE lethe_restore.pending SET set_aside = set_aside || \(SQLValue.textArray(schemas.map(\.name)))::text[]")
    }

    /// pg_restore failed (its transaction rolled back, set-aside schemas put back): the target is as it was.
    func abandon() throws {
        guard try pending() != nil else { return }
        try target.transaction {
            try reopenAndRemove()
        }
    }

    /// In the restore's last transaction: drops what --clean set aside, gives CONNECT back, removes the marker.
    /// A set-aside schema holding a tombstone or a shred that the restored `lethe` lacks is kept (and returned):
    /// dropping it would lose the only record of an erasure.
    func finish() throws -> [String] {
        guard let pending = try pending() else { return [] }
        var kept: [String] = []
        for schema in pending.setAside where !schema.isEmpty {
            let aside = try SQLIdentifier(schema)
            if try holdsUnreplayedErasures(aside) {
                kept.append(schema)
                continue
            }
            try target.execute("DROP SCHEMA IF EXISTS \(aside) CASCADE")
        }
        try reopenAndRemove()
        return kept
    }

    private func holdsUnreplayedErasures(_ aside: SQLIdentifier) throws -> Bool {
        let tables = try target.query("""
            SELECT to_regclass(format('%I.tombstones', \(.text(aside.name))::text)) IS NOT NULL AS tombstones,
                   to_regclass(format('%I.customer_keys', \(.text(aside.name))::text)) IS NOT NULL AS keys
            """).single("set-aside tables")
        if try tables.bool("tombstones"), try target.query("""
            SELECT EXISTS (SELECT 1 FROM \(aside).tombstones t WHERE NOT EXISTS (SELECT 1 FROM lethe.tombstones l WHERE l.id = t.id)) AS lost
            """).single("tombstones").bool("lost") { return true }
        if try tables.bool("keys"), try target.query("""
            SELECT EXISTS (SELECT 1 FROM \(aside).customer_keys k WHERE k.shredded_at IS NOT NULL
                           AND NOT EXISTS (SELECT 1 FROM lethe.customer_keys l WHERE l.key_id = k.key_id AND l.shredded_at IS NOT NULL)) AS lost
            """).single("shreds").bool("lost") { return true }
        return false
    }

    /// Gives PUBLIC its CONNECT back if it had it, and removes the marker (in the caller's transaction).
    private func reopenAndRemove() throws {
        if try target.query("SELECT public_could_connect FROM lethe_restore.pending").single("marker").bool("public_could_connect") {
            try target.execute("GRANT CONNECT ON DATABASE \(try SQLIdentifier(target.target.database)) TO PUBLIC")
        }
        try target.execute("DROP SCHEMA lethe_restore CASCADE")
    }
}
