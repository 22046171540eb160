/// Session-level advisory locks, keyed in Lethe's own namespace so they never collide with the application's.
public enum AdvisoryLockKey: Int32, Sendable {
    case migrate = 1
    case purge = 2
    case backup = 3
    case keys = 4
    case encryptMigrate = 5
    case partitions = 6
    case backupExpire = 7
    case requestsCheck = 8
    case inspect = 9
    /// Taken by lethe.audit_append() in SQL; listed so no other use takes the number.
    case audit = 100

    /// First half of the two-int key: "LETH" in ASCII.
    static let namespace: Int32 = 0x4C45_5448
}

extension PostgresConnection {
    /// Takes the lock if free; false when another session holds it.
    public func tryAdvisoryLock(_ key: AdvisoryLockKey) throws -> Bool {
        try query("SELECT pg_try_advisory_lock(\(Int(AdvisoryLockKey.namespace))::int, \(Int(key.rawValue))::int) AS locked")
            .single("pg_try_advisory_lock").bool("locked")
    }

    /// Waits for the lock.
    public func advisoryLock(_ key: AdvisoryLockKey) throws {
        try execute("SELECT pg_advisory_lock(\(Int(AdvisoryLockKey.namespace))::int, \(Int(key.rawValue))::int)")
    }

    public func advisoryUnlock(_ key: AdvisoryLockKey) throws {
        try execute("SELECT pg_advisory_unlock(\(Int(AdvisoryLockKey.namespace))::int, \(Int(key.rawValue))::int)")
    }
}
