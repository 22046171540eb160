import LetheCore
import Postgres

/// How this connection may change the tables it purges and partitions. Their owner (or a superuser) runs the
/// DDL itself: concurrent detaches, parked partitions. Any other role (the `lethe_worker` duty) goes through
/// the SECURITY DEFINER functions of migration 0015, which recompute the rules and refuse anything they keep.
public enum TableAuthority: String, Sendable, Encodable {
    case owner
    case guarded

    /// `owner` only if this user may act as the owner of every one of `tables` that exists.
    public static func of(_ db: PostgresConnection, tables: [QualifiedName]) throws -> TableAuthority {
        guard !tables.isEmpty else { return .owner }
        let all = try db.query("""
            SELECT coalesce(bool_and(pg_has_role(c.relowner, 'USAGE')), true) AS owner
            FROM pg_class c WHERE c.oid = ANY (ARRAY(SELECT to_regclass(unnest(\(SQLValue.textArray(tables.map(\.description)))::text[]))))
            """)  // validated lower-case names
            .single("owner").bool("owner")
        return all ? .owner : .guarded
    }
}
