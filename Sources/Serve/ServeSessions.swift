import Dispatch
import Foundation
import Intake
import Keys
import LetheCore
import Phone
import Policy
import Postgres

/// One database session of the service with the vault it seals and opens with (its own data-key cache and cipher
/// contexts): used by one request at a time, so each libpq handle has one owner.
final class ServeSession: @unchecked Sendable {
    let db: PostgresConnection
    let vault: Vault
    let intake: BatchIntake

    init(conninfo: String?, keyring: Keyring, policy: RetentionPolicy, phones: PhoneVerdictCache) throws {
        db = try PostgresConnection(conninfo: conninfo)
        try db.setParameter("application_name", "lethe serve")
        vault = try Vault(db: db, keyring: keyring, blindIndexBits: policy.blindIndexBits)
        intake = BatchIntake(policy: policy, db: db, vault: vault, phones: phones)
    }
}

/// A few sessions, lent to requests and run off Swift's cooperative pool (libpq blocks): a request waits for a free
/// session instead of opening one per call.
final class ServeSessions: @unchecked Sendable {
    private let conninfo: String?
    private let keyring: Keyring
    private let policy: RetentionPolicy
    private let idle = Locked<[ServeSession]>([])
    private let slots: DispatchSemaphore
    private let queue = DispatchQueue(label: "lethe.serve.database", attributes: .concurrent)
    /// Shared by every session's intake: bounded, and sharded locks.
    private let phones: PhoneVerdictCache

    init(conninfo: String?, keyring: Keyring, policy: RetentionPolicy, size: Int) {
        self.conninfo = conninfo
        self.keyring = keyring
        self.policy = policy
        slots = DispatchSemaphore(value: size)
        phones = PhoneVerdictCache(defaultRegion: policy.defaultRegion, rules: policy.phoneRules)
    }

    /// Runs `body` with a session on a thread of its own; a session whose connection broke is dropped, not reused.
    func with<T: Sendable>(_ body: @escaping @Sendable (ServeSession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                slots.wait()
                defer { slots.signal() }
                do {
                    let session = try idle.withLock { $0.popLast() } ?? ServeSession(conninfo: conninfo, keyring: keyring, policy: policy, phones: phones)
                    defer { if session.db.isAlive { idle.withLock { $0.append(session) } } }
                    continuation.resume(returning: try body(session))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
