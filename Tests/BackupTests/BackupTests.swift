import Backup
import Foundation
import Keys
import LetheCore
import Policy
import Postgres
import Purge
import Restore
import TestSupport
import Testing

@Suite struct BackupTests {
    struct Setup {
        let source: TestDatabase
        let keyring: Keyring
        let repository: BackupRepository
        let policy: RetentionPolicy
        let directory: String

        func backup(at date: Date = Date()) throws -> BackupManifest {
            try BackupJob(db: source.connection, conninfo: source.conninfo, policy: policy, sealing: .keyring(keyring), repository: repository).dated(date).run()
        }

        func restore(_ id: String, into target: TestDatabase, clean: Bool = false) throws -> RestoreJob.Report {
            try RestoreJob(live: source.connection, policy: policy, keyring: keyring, repository: repository)
                .run(id: id, targetConninfo: target.conninfo, tables: [], clean: clean, dryRun: false)
        }
    }

    func setUp(contacts: Int = 2000) throws -> Setup {
        let source = try TestDatabase()
        try BackupFixture.load(source.connection, contacts: contacts)
        let directory = try IntakeFixture.directory()
        return Setup(source: source, keyring: try Keyring.create(at: directory + "/keyring"),
                     repository: try BackupRepository(directory: directory + "/repo"), policy: try PolicyFixture.defaultPolicy(), directory: directory)
    }

    @Test func backupThenRestoreGivesTheSameRows() throws {
        let setup = try setUp()
        let manifest = try setup.backup()
        let mode = try FileManager.default.attributesOfItem(atPath: manifest.file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.attributesOfItem(atPath: setup.repository.manifestPath(manifest.id))[.posixPermissions] as? Int == 0o600)
        let target = try TestDatabase(migrated: false)
        let report = try setup.restore(manifest.id, into: target)
        #expect(report.rowsPurgedAfterRestore == 0)
        #expect(try BackupFixture.fingerprint(target.connection) == BackupFixture.fingerprint(setup.source.connection))
        // Messages are kept out of backups by the policy: the table comes back empty.
        #expect(try target.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 0)
    }

    @Test func theFileHoldsNoPlaintextMarker() throws {
        let setup = try setUp()
        let manifest = try setup.backup()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: manifest.file))
        for marker in BackupFixture.markers { #expect(bytes.range(of: Data(marker.utf8)) == nil, "\(marker)") }
        #expect(bytes.range(of: Data("CREATE TABLE".utf8)) == nil)
    }

    @Test func everyTamperingIsDetectedBeforeRestoring() throws {
        let setup = try setUp()
        let manifest = try setup.backup()
        let original = try Data(contentsOf: URL(fileURLWithPath: manifest.file))
        let verifier = BackupVerifier(repository: setup.repository, keys: BackupOpeningKeys(keyring: setup.keyring))
        #expect(try verifier.verify(manifest.id).tocEntries > 10)
        let chunk = 4 + 64 * 1024 + 16
        let header = original.count - chunkBoundaries(original)
        #expect(original.count > header + 3 * chunk, "several chunks")
        // Over 100 positions: through the header, the middle and the last chunk.
        var positions = Array(stride(from: 0, to: header, by: max(1, header / 40)))
        positions += stride(from: original.count / 2 - 2000, to: original.count / 2 + 2000, by: 97)
        positions += stride(from: original.count - 1500, to: original.count, by: 37)
        #expect(positions.count >= 100)
        for position in positions {
            var tampered = original
            tampered[position] ^= 0x20
            try tampered.write(to: URL(fileURLWithPath: manifest.file))
            do {
                _ = try verifier.verify(manifest.id)
                Issue.record("flip at \(position) was not detected")
            } catch let error as LetheError {
                #expect(error.code == .integrity, "flip at \(position): \(error.message)")
            }
        }
        // Cut at chunk boundaries, and drop the last chunk.
        let lastChunkStart = header + ((original.count - header - 1) / chunk) * chunk
        for cut in [lastChunkStart, header + chunk, header + 2 * chunk] {
            try original.prefix(cut).write(to: URL(fileURLWithPath: manifest.file))
            let error = #expect(throws: LetheError.self) { try verifier.verify(manifest.id) }
            #expect(error?.code == .integrity, "cut at \(cut): \(error?.message ?? "")")
        }
        try original.write(to: URL(fileURLWithPath: manifest.file))
        #expect(try verifier.verify(manifest.id).bytes > 0)
    }

    /// Bytes taken by full-size chunks plus the final one (everything after the header).
    func chunkBoundaries(_ file: Data) -> Int {
        let bytes = [UInt8](file)
        let jsonLength = Int(bytes[18]) << 24 | Int(bytes[19]) << 16 | Int(bytes[20]) << 8 | Int(bytes[21])
        return bytes.count - (82 + jsonLength)
    }

    @Test func aWrongKeyringRestoresNothing() throws {
        let setup = try setUp(contacts: 100)
        let manifest = try setup.backup()
        let other = try Keyring.create(at: setup.directory + "/other-keyring")
        let target = try TestDatabase(migrated: false)
        do {
            _ = try RestoreJob(live: setup.source.connection, policy: setup.policy, keyring: other, repository: setup.repository)
                .run(id: manifest.id, targetConninfo: target.conninfo, tables: [], clean: false, dryRun: false)
            Issue.record("expected a refusal")
        } catch let error as LetheError {
            #expect(error.code == .integrity)
            #expect(error.message.contains("does not authenticate"))
        }
        #expect(try target.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname IN ('sms', 'lethe')").single("n").int("n") == 0)
    }

    @Test func expiryKeepsRecentRemovesOldAndNeverTheNewestValid() throws {
        let setup = try setUp(contacts: 50)
        let now = Date()
        let day = 86400.0
        var ids: [Int: String] = [:]
        for age in [1, 20, 40, 90, 150, 200, 215, 240] { ids[age] = try setup.backup(at: now.addingTimeInterval(-Double(age) * day)).id }
        let plan = try BackupExpiry(repository: setup.repository, keys: BackupOpeningKeys(keyring: setup.keyring)).run(now: now, keep: ISODuration(days: 35), dryRun: false)
        #expect(Set(plan.keep) == [ids[1]!, ids[20]!])
        #expect(Set(plan.remove) == Set([40, 90, 150, 200, 215, 240].map { ids[$0]! }))
        #expect(try setup.repository.list().count == 2)

        // Only old backups left: the newest valid one within six months stays, even past the keep period.
        let older = try setUp(contacts: 50)
        let a = try older.backup(at: now.addingTimeInterval(-60 * day)).id
        let b = try older.backup(at: now.addingTimeInterval(-120 * day)).id
        let c = try older.backup(at: now.addingTimeInterval(-210 * day)).id
        // The newest is damaged, so the next one is the newest valid backup.
        var damaged = try Data(contentsOf: URL(fileURLWithPath: older.repository.backupPath(a)))
        damaged[damaged.count - 5] ^= 1
        try damaged.write(to: URL(fileURLWithPath: older.repository.backupPath(a)))
        let second = try BackupExpiry(repository: older.repository, keys: BackupOpeningKeys(keyring: older.keyring)).run(now: now, keep: ISODuration(days: 35), dryRun: true)
        #expect(second.keep == [b])
        #expect(Set(second.remove) == [a, c])
        #expect(try older.repository.list().count == 3, "dry run removes nothing")
    }

    /// Dates in a header are not trusted until it authenticates: a backup whose date was moved into the past is
    /// not removed as old (nor one moved into the present kept as new); both are left and reported.
    @Test func expiryDoesNotActOnDatesInAHeaderThatDoesNotAuthenticate() throws {
        let setup = try setUp(contacts: 50)
        let now = Date()
        let recent = try setup.backup(at: now.addingTimeInterval(-2 * 86400)).id
        let old = try setup.backup(at: now.addingTimeInterval(-250 * 86400)).id
        func redate(_ id: String, to date: Date) throws {
            let path = setup.repository.backupPath(id)
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            let json = Int(bytes[18]) << 24 | Int(bytes[19]) << 16 | Int(bytes[20]) << 8 | Int(bytes[21])
            let text = String(decoding: bytes[82..<82 + json], as: UTF8.self)
            let range = try #require(text.range(of: #""createdAt":"[^"]*""#, options: .regularExpression))
            let replaced = text.replacingCharacters(in: range, with: "\"createdAt\":\"\(Timestamps.isoFractional(date))\"")
            #expect(replaced.utf8.count == json, "same length, so the framing stays valid")
            bytes.replaceSubrange(82..<82 + json, with: Array(replaced.utf8))
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        try redate(recent, to: now.addingTimeInterval(-300 * 86400))
        try redate(old, to: now.addingTimeInterval(-1 * 86400))
        let plan = try BackupExpiry(repository: setup.repository, keys: BackupOpeningKeys(keyring: setup.keyring)).run(now: now, keep: ISODuration(days: 35), dryRun: false)
        #expect(Set(plan.untrusted) == [recent, old])
        #expect(plan.remove.isEmpty && plan.keep.isEmpty)
        #expect(try setup.repository.list().count == 2, "nothing removed on a forged date")
        #expect(BackupExpiry.untrustedError(plan)?.code == .integrity)
        #expect(try setup.repository.list(keys: BackupOpeningKeys(keyring: setup.keyring)).map(\.headerAuthenticated) == [false, false])
        #expect(try setup.repository.list().map(\.headerAuthenticated) == [nil, nil], "without the keyring a date is only what the file says")
    }

    @Test func aRestoreDoesNotBringBackWhatAShortenedRetentionRemoved() throws {
        let setup = try setUp(contacts: 300)
        let manifest = try setup.backup()
        // After the backup, customer 1 shortens its retention to 30 days and the live database is purged.
        try Purge.RetentionOverrides(setup.source.connection, policy: setup.policy).set(customer: 1, period: "P30D", reason: "contract")
        _ = try Purge.PurgeJob(setup.source.connection, policy: setup.policy).run(scope: Purge.PurgeScope(), wait: false)
        let target = try TestDatabase(migrated: false)
        let report = try setup.restore(manifest.id, into: target)
        #expect(report.retentionFromLiveDatabase)
        #expect(report.rowsPurgedAfterRestore > 0)
        let old = try target.connection.query("""
            SELECT count(*) AS n FROM sms.contacts WHERE customer_id = 1 AND created_at < now() - interval '30 days'
            """).single("n").int("n")
        #expect(old == 0)
        #expect(try BackupFixture.fingerprint(target.connection)["sms.contacts"] == BackupFixture.fingerprint(setup.source.connection)["sms.contacts"])
    }
}
