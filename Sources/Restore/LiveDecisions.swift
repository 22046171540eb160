import Keys
import LetheCore
import Postgres
import Purge
import Subject

/// What the live database decided that a restore must re-apply: retention overrides, legal holds, shredded
/// keys and every erasure. Read once, before anything in the target is set aside or restored, so that nothing
/// the restore does can change what it replays.
struct LiveDecisions {
    let overrides: RegisterRows
    let holds: RegisterRows
    let shreds: [KeyAdministration.Shred]
    let tombstones: [Tombstones.Tombstone]

    init(reading live: PostgresConnection) throws {
        // One snapshot: a decision committed while it is read is either wholly in it or wholly after it.
        (overrides, holds, shreds, tombstones) = try live.transaction {
            try live.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            // Each read by the module that owns the register, as each replays it.
            return (try RetentionOverrides.snapshot(live), try LegalHolds.snapshot(live), try KeyAdministration.shreds(live),
             try Tombstones(live).all())
        }
    }
}

/// The live database, as a restore must never touch it.
enum LiveDatabase {
    /// Refuses (exit 73) a restore target that is the live database itself: same cluster (system identifier) and
    /// same database oid, whatever host name, port or socket reached it. A --clean restore there would replace
    /// the registers the replay reads, and undo every erasure since the backup.
    static func refuseAsTarget(_ target: PostgresConnection, live: PostgresConnection) throws {
        let identity: SQL = "SELECT (SELECT system_identifier FROM pg_control_system())::text AS cluster, (SELECT oid FROM pg_database WHERE datname = current_database())::text AS db"
        let (ours, theirs) = (try target.query(identity).single("identity"), try live.query(identity).single("identity"))
        guard try ours.string("cluster") == theirs.string("cluster"), try ours.string("db") == theirs.string("db") else { return }
        throw LetheError(.cannotCreate, "the restore target \(target.target) is the live database itself (same cluster and database oid)",
                         hint: "restore into a new, empty database (e.g. createdb lethe_restore, then --target-database 'dbname=lethe_restore'), check it, then switch the application over")
    }
}
