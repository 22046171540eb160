import Foundation

/// A bounded map shared by an import's threads: entries spread over shards with a lock each, so that threads
/// rarely wait on each other; a full shard is emptied. For values that are costly to compute and cheap to keep.
public final class ShardedCache<Key: Hashable, Value>: @unchecked Sendable {
    private final class Shard {
        let lock = NSLock()
        var entries: [Key: Value] = [:]
    }

    private let shards: [Shard]
    private let shardCapacity: Int

    /// At most `capacity` entries in all.
    public init(capacity: Int, shardCount: Int = 64) {
        shards = (0..<max(1, shardCount)).map { _ in Shard() }
        shardCapacity = max(16, capacity / max(1, shardCount))
    }

    private func shard(_ key: Key) -> Shard { shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))] }

    public func value(for key: Key) -> Value? {
        let shard = shard(key)
        shard.lock.lock()
        defer { shard.lock.unlock() }
        return shard.entries[key]
    }

    public func insert(_ value: Value, for key: Key) {
        let shard = shard(key)
        shard.lock.lock()
        defer { shard.lock.unlock() }
        // Room for the whole shard at once: growing by doubling rehashed every entry several times.
        if shard.entries.isEmpty { shard.entries.reserveCapacity(shardCapacity) }
        if shard.entries.count >= shardCapacity { shard.entries.removeAll(keepingCapacity: true) }
        shard.entries[key] = value
    }
}
