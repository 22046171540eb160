import Audit
import Backup
import Foundation
import Keys
import LetheCore
import LetheCrypto
import Phone
import Policy
import Postgres
import Purge
import Restore
import Subject
import TestSupport
import Testing

@Suite struct SubjectErasureTests {
    @Test func eraseRemovesThePersonEverywhereAndExportThenFindsNothing() throws {
        let world = try SubjectWorld.standard()
        let before = try world.rowsAbout(SubjectWorld.alice)
        let carolBefore = try world.rowsAbout(SubjectWorld.carol)
        let erasure = SubjectErasure(db: world.db.connection, policy: world.policy, keyring: world.keyring)
        let dry = try erasure.run(number: try world.phone(SubjectWorld.alice), request: nil, dryRun: true)
        #expect(dry.dryRun && dry.totalRows == 5 && dry.tombstone == nil)
        #expect(try world.rowsAbout(SubjectWorld.alice) == before, "a dry run changes nothing")

        let request = try RequestRegister(world.db.connection).open(kind: .erasure, reference: "DPO-9", received: nil)
        let receipt = try erasure.run(number: try world.phone(SubjectWorld.alice), request: request.id, dryRun: false)
        #expect(receipt.rowsRemoved == ["sms.messages": 2, "sms.contacts": 1, "sms.delivery_reports": 2])
        #expect(receipt.request == request.id && receipt.tombstone != nil)
        #expect(try world.rowsAbout(SubjectWorld.alice).values.allSatisfy(\.isEmpty))
        #expect(try world.rowsAbout(SubjectWorld.carol) == carolBefore, "other people untouched")
        let export = try SubjectExport(db: world.db.connection, policy: world.policy, keyring: world.keyring)
            .run(number: try world.phone(SubjectWorld.alice), directory: world.directory + "/after", request: nil)
        #expect(export.totalRows == 0)

        // The tombstone keeps a fingerprint and the receipt, never the number.
        let tombstone = try #require(try Tombstones(world.db.connection).all().first)
        #expect(tombstone.fingerprint?.hmac.count == 32)
        var dump = [UInt8]()
        try world.db.connection.copyOut("COPY (SELECT t.*, r.* FROM lethe.tombstones t JOIN lethe.tombstone_rows r ON r.tombstone_id = t.id) TO STDOUT") { dump += $0 }
        try world.db.connection.copyOut("COPY (SELECT * FROM lethe.audit_log) TO STDOUT") { dump += $0 }
        let text = String(decoding: dump, as: UTF8.self)
        for needle in ["+33612345678", "612345678", "0612345678", "Mercier", "Lavande"] { #expect(!text.contains(needle), "\(needle)") }
        #expect(try RequestRegister(world.db.connection).list().first { $0.id == request.id }?.closedAt != nil)
        #expect(try AuditLog.verify(world.db.connection).brokenAt == nil)
        // The erasure's own record, not just an intact chain: one subject.erase naming its tombstone and request,
        // with the rows removed per table (issue 34: a mutation that wrote none passed).
        let record = try world.db.connection.query("""
            SELECT count(*) OVER () AS n, details->>'request' AS request, details->'rows_removed'->>'sms.contacts' AS contacts
            FROM lethe.audit_log WHERE action = 'subject.erase' AND target = $1
            """, [.text("tombstone \(receipt.tombstone ?? 0)")]).single("subject.erase record")
        #expect(try record.int("n") == 1 && record.string("request") == "\(request.id)" && record.string("contacts") == "1")
    }

    /// Issue 30: an erasure under a hold erases every row no hold covers, keeps the held ones and lists both in the
    /// receipt. Before, it refused the whole erasure, customer 1's rows included. A restore's replay keeps them too.
    @Test func erasureUnderAHoldErasesWhatNoHoldCoversAndKeepsTheHeldRows() throws {
        let world = try SubjectWorld.standard()
        let hold = try LegalHolds(world.db.connection, policy: world.policy).add(customer: 2, reason: "Enquête 2026-118", until: nil)
        let heldIds = try Set(world.db.connection.query("SELECT id FROM sms.messages WHERE customer_id = 2").rows.map { try $0.int("id") })
        let before = try world.rowsAbout(SubjectWorld.alice)
        let erasure = SubjectErasure(db: world.db.connection, policy: world.policy, keyring: world.keyring)
        let dry = try erasure.run(number: try world.phone(SubjectWorld.alice), request: nil, dryRun: true)
        #expect(try world.rowsAbout(SubjectWorld.alice) == before, "--dry-run changes nothing")
        let receipt = try erasure.run(number: try world.phone(SubjectWorld.alice), request: nil, dryRun: false)
        #expect(receipt.keptByHold == dry.keptByHold && receipt.totalRows == dry.totalRows)
        #expect(!receipt.keptByHold.isEmpty && receipt.keptByHold.allSatisfy { $0.customerId == 2 && $0.holdId == hold.id })
        #expect(receipt.totalRows > 0, "customer 1's rows are erased")
        let after = try world.rowsAbout(SubjectWorld.alice)
        #expect(after["sms.messages"]!.isSubset(of: heldIds) && !after["sms.messages"]!.isEmpty, "only the held customer's rows stay")
        #expect(after["sms.contacts"]!.count == receipt.keptByHold.filter { $0.table == "sms.contacts" }.reduce(0) { $0 + $1.rows })
        #expect(try Tombstones(world.db.connection).all().count == 1)
        // Released, the next erasure removes the rest.
        _ = try LegalHolds(world.db.connection, policy: world.policy).release(customer: 2)
        let rest = try erasure.run(number: try world.phone(SubjectWorld.alice), request: nil, dryRun: false)
        #expect(rest.keptByHold.isEmpty && rest.totalRows > 0)
        #expect(try world.rowsAbout(SubjectWorld.alice).values.allSatisfy(\.isEmpty))
    }

    /// A backup taken before an erasure, restored into a fresh database, comes back without the person, and the
    /// report counts the rows erased again (the contact, and the delivery reports whose messages are not backed up).
    @Test func restoreOfAnOlderBackupErasesThePersonAgain() throws {
        let world = try SubjectWorld.standard()
        let repository = try BackupRepository(directory: world.directory + "/repo")
        let manifest = try BackupJob(db: world.db.connection, conninfo: world.db.conninfo, policy: world.policy, sealing: .keyring(world.keyring),
                                     repository: repository).run()
        let receipt = try SubjectErasure(db: world.db.connection, policy: world.policy, keyring: world.keyring)
            .run(number: try world.phone(SubjectWorld.alice), request: nil, dryRun: false)
        #expect(receipt.totalRows == 5)

        let target = try TestDatabase(migrated: false)
        let report = try RestoreJob(live: world.db.connection, policy: world.policy, keyring: world.keyring, repository: repository)
            .run(id: manifest.id, targetConninfo: target.conninfo, tables: [], clean: false, dryRun: false)
        #expect(report.erasuresReplayed == 1)
        #expect(report.rowsErasedAgain == 3, "Alice's contact and her two delivery reports (messages are not backed up)")
        let count = { (sql: String) in try target.connection.query(sql).single("n").int("n") }
        #expect(try count("SELECT count(*) AS n FROM sms.contacts") == 2, "Bob's and Carol's contacts remain")
        #expect(try count("SELECT count(*) AS n FROM sms.delivery_reports") == 2, "Carol's two reports remain")
        #expect(try count("SELECT count(*) AS n FROM lethe.tombstones") == 1, "the tombstone travels into the restored database")
        // Audited in both databases: the target's restore record and its replay, and the live database's record.
        #expect(try count("SELECT count(*) AS n FROM lethe.audit_log WHERE action = 'restore' AND (details->>'erasures_replayed')::int = 1") == 1)
        #expect(try count("SELECT count(*) AS n FROM lethe.audit_log WHERE action = 'subject.erase.replay'") == 1)
        #expect(try world.db.connection.query("SELECT count(*) AS n FROM lethe.audit_log WHERE action = 'restore' AND target = $1",
                                              [.text("backup \(manifest.id)")]).single("n").int("n") == 1, "the live database records the restore")
        let vault = try Vault(db: target.connection, keyring: world.keyring)
        for row in try target.connection.query("SELECT id, customer_id, phone FROM sms.contacts").rows {
            let phone = try vault.open(row.bytes("phone"), EnvelopeContext(table: "sms.contacts", column: "phone", customer: row.int("customer_id")), row: row.int("id"))
            #expect(String(decoding: phone, as: UTF8.self) != SubjectWorld.alice.e164)
        }
        // A second restore of the same backup replays the same erasure again; in a backup taken after it, nothing is left to erase.
        let later = try BackupJob(db: world.db.connection, conninfo: world.db.conninfo, policy: world.policy, sealing: .keyring(world.keyring),
                                  repository: repository).dated(Date().addingTimeInterval(2)).run()
        let fresh = try TestDatabase(migrated: false)
        let second = try RestoreJob(live: world.db.connection, policy: world.policy, keyring: world.keyring, repository: repository)
            .run(id: later.id, targetConninfo: fresh.conninfo, tables: [], clean: false, dryRun: false)
        #expect(second.erasuresReplayed == 1 && second.rowsErasedAgain == 0, "every live tombstone is replayed; this one finds nothing left")
    }

    /// Past the six-month ceiling on backups (and a week), the purge removes a tombstone's fingerprint and keeps its
    /// row ids: a replay still erases the rows it listed.
    @Test func aTombstoneLosesItsFingerprintOnceNoBackupPredatesIt() throws {
        let world = try SubjectWorld.standard()
        let repository = try BackupRepository(directory: world.directory + "/repo")
        let manifest = try BackupJob(db: world.db.connection, conninfo: world.db.conninfo, policy: world.policy, sealing: .keyring(world.keyring),
                                     repository: repository).run()
        _ = try SubjectErasure(db: world.db.connection, policy: world.policy, keyring: world.keyring)
            .run(number: try world.phone(SubjectWorld.alice), request: nil, dryRun: false)
        _ = try PurgeJob(world.db.connection, policy: world.policy).run(scope: PurgeScope(), wait: false)
        #expect(try Tombstones(world.db.connection).all().first?.fingerprint != nil, "a young tombstone keeps its fingerprint")
        try world.db.connection.execute("UPDATE lethe.tombstones SET erased_at = now() - interval '7 months'")
        let report = try PurgeJob(world.db.connection, policy: world.policy).run(scope: PurgeScope(), wait: false)
        #expect(report.checkPassed)
        let tombstone = try #require(try Tombstones(world.db.connection).all().first)
        #expect(tombstone.fingerprint == nil && !tombstone.rows.isEmpty)
        let target = try TestDatabase(migrated: false)
        let restored = try RestoreJob(live: world.db.connection, policy: world.policy, keyring: world.keyring, repository: repository)
            .run(id: manifest.id, targetConninfo: target.conninfo, tables: [], clean: false, dryRun: false)
        #expect(restored.erasuresReplayed == 1 && restored.rowsErasedAgain == 3, "the listed rows are erased again")
    }

    /// A backup's own `lethe.tombstones` decide nothing: one under the id the live database later gave Alice's
    /// erasure (as a forged file could carry) made the replay skip that erasure, and Alice came back.
    @Test func aTombstoneInTheBackupUnderALiveIdDoesNotStopTheReplay() throws {
        let world = try SubjectWorld.standard()
        let live = world.db.connection
        try live.execute("""
            INSERT INTO lethe.tombstones (id, blind_index, blind_index_bits, subject_hmac, rows_removed, erased_by_os_user)
            VALUES (1, '\\x00', 16, decode(repeat('00', 32), 'hex'), '{}', 'forger')
            """)
        let repository = try BackupRepository(directory: world.directory + "/repo")
        let manifest = try BackupJob(db: live, conninfo: world.db.conninfo, policy: world.policy, sealing: .keyring(world.keyring), repository: repository).run()
        try live.execute("DELETE FROM lethe.tombstones WHERE id = 1")
        try live.execute("SELECT setval(pg_get_serial_sequence('lethe.tombstones', 'id'), 1, false)")
        _ = try SubjectErasure(db: live, policy: world.policy, keyring: world.keyring).run(number: try world.phone(SubjectWorld.alice), request: nil, dryRun: false)
        #expect(try Tombstones(live).ids() == [1])

        let target = try TestDatabase(migrated: false)
        let report = try RestoreJob(live: live, policy: world.policy, keyring: world.keyring, repository: repository)
            .run(id: manifest.id, targetConninfo: target.conninfo, tables: [], clean: false, dryRun: false)
        #expect(report.rowsErasedAgain == 3, "Alice's contact and her two delivery reports")
        #expect(try target.connection.query("SELECT count(*) AS n FROM sms.contacts").single("n").int("n") == 2)
        let restored = try #require(try Tombstones(target.connection).all().first)
        #expect(restored.erasedByOsUser != "forger" && restored.fingerprint != nil, "the live tombstone replaced the backup's")
    }

    /// `restore --clean` into the live database would replace the registers the replay reads: refused (exit 73)
    /// before anything is read from the backup, however the target is named.
    @Test func theLiveDatabaseIsRefusedAsTheRestoreTarget() throws {
        let world = try SubjectWorld.standard()
        let live = world.db.connection
        let repository = try BackupRepository(directory: world.directory + "/repo")
        let manifest = try BackupJob(db: live, conninfo: world.db.conninfo, policy: world.policy, sealing: .keyring(world.keyring), repository: repository).run()
        _ = try SubjectErasure(db: live, policy: world.policy, keyring: world.keyring).run(number: try world.phone(SubjectWorld.alice), request: nil, dryRun: false)
        let before = try live.query("SELECT count(*) AS n FROM sms.contacts").single("n").int("n")
        for dryRun in [true, false] {
            let error = #expect(throws: LetheError.self) {
                try RestoreJob(live: live, policy: world.policy, keyring: world.keyring, repository: repository)
                    .run(id: manifest.id, targetConninfo: world.db.conninfo, tables: [], clean: true, dryRun: dryRun)
            }
            #expect(error?.code == .cannotCreate)
            #expect(error?.hint?.contains("new, empty database") == true)
        }
        #expect(try live.query("SELECT count(*) AS n FROM sms.contacts").single("n").int("n") == before)
        #expect(try Tombstones(live).ids().count == 1)
    }
}
