import LetheCore
import Postgres

/// A register this module owns that a restore replays: read from the live database and written into the restored
/// one by its owner, as whole records, so a column a migration adds is never dropped on the way.
public protocol ReplayedRegister {
    static var table: QualifiedName { get }
}

extension ReplayedRegister {
    public static func snapshot(_ live: PostgresConnection) throws -> RegisterRows { try RegisterRows.read(live, table) }

    /// Makes the target's register exactly the snapshot's (in the caller's transaction).
    public static func replay(_ snapshot: RegisterRows, into target: PostgresConnection) throws {
        precondition(snapshot.table == table, "a snapshot of another register")
        try snapshot.replace(in: target)
    }
}

extension RetentionOverrides: ReplayedRegister {
    public static let table = try! QualifiedName(parsing: "lethe.retention_overrides")
}

/// Placed and released holds alike.
extension LegalHolds: ReplayedRegister {
    public static let table = try! QualifiedName(parsing: "lethe.legal_holds")
}
