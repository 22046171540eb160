import Foundation
@testable import Ledger
import LetheCore
import LetheCrypto
import TestSupport
import Testing

/// The ledger's files as an attacker or an accident leaves them: a flipped byte, a cut record, two records
/// swapped, one removed, one forged under another key. Each is refused (exit 79) naming the record, before any
/// record is used.
@Suite struct LedgerTests {
    func ledger(key: SecretKey? = nil) throws -> (Ledger, String) {
        let root = try IntakeFixture.directory(prefix: "lethe-ledger") + "/ledger"  // removed when the tests exit
        try Ledger.prepare(root: root)
        return (Ledger(root: root, key: LedgerKey(try key ?? SecretKey.random())), root)
    }

    func written(_ ledger: Ledger, count: Int, instance: String) throws -> [LedgerRecord] {
        var prev = LedgerRecord.genesis
        var records: [LedgerRecord] = []
        for seq in 1...count {
            var entry = LedgerEntry(action: .retentionSet, customerId: Int64(seq))
            entry.period = "P1M"
            let record = try ledger.write(entry, seq: Int64(seq), prev: prev, instance: instance, audit: (Int64(seq), String(repeating: "a", count: 64)), at: Date())
            prev = record.mac
            records.append(record)
        }
        return records
    }

    func path(_ root: String, _ instance: String, _ seq: Int64) -> String { "\(root)/\(instance)/\(Ledger.fileName(seq))" }

    func expectRefused(_ ledger: Ledger, _ instance: String, _ why: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try ledger.records(instance: instance)
            Issue.record("accepted a ledger that was \(why)", sourceLocation: sourceLocation)
        } catch let error as LetheError {
            #expect(error.code == .integrity && error.message.contains("nothing was applied"), "\(why): \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(why): \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func recordsReadBackVerifiedAndPrivate() throws {
        let (ledger, root) = try ledger()
        let instance = UUID().uuidString.lowercased()
        let records = try written(ledger, count: 3, instance: instance)
        #expect(try ledger.records(instance: instance) == records)
        #expect(records[1].prev == records[0].mac && records[0].prev == LedgerRecord.genesis)
        var info = stat()
        #expect(stat(path(root, instance, 2), &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat("\(root)/\(instance)", &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect(try ledger.records(instance: "other").isEmpty)
        // Nothing personal: ids and periods only.
        let text = try String(contentsOfFile: path(root, instance, 1), encoding: .utf8)
        #expect(text.contains("\"action\":\"retention_set\"") && text.contains("\"customer_id\":1"))
    }

    @Test func aFlippedByteIsRefused() throws {
        let (ledger, root) = try ledger()
        let instance = "i-flip"
        _ = try written(ledger, count: 3, instance: instance)
        var bytes = Array(FileManager.default.contents(atPath: path(root, instance, 2))!)
        let at = bytes.firstIndex(of: UInt8(ascii: "1"))!
        bytes[at] = UInt8(ascii: "7")
        try Data(bytes).write(to: URL(fileURLWithPath: path(root, instance, 2)))
        expectRefused(ledger, instance, "flipped")
    }

    @Test func aCutRecordIsRefused() throws {
        let (ledger, root) = try ledger()
        let instance = "i-cut"
        _ = try written(ledger, count: 3, instance: instance)
        let bytes = FileManager.default.contents(atPath: path(root, instance, 3))!
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path(root, instance, 3)))
        expectRefused(ledger, instance, "cut")
    }

    @Test func reorderedOrRemovedRecordsAreRefused() throws {
        let (ledger, root) = try ledger()
        let instance = "i-order"
        _ = try written(ledger, count: 3, instance: instance)
        let one = path(root, instance, 1), two = path(root, instance, 2)
        try FileManager.default.moveItem(atPath: one, toPath: one + ".x")
        try FileManager.default.moveItem(atPath: two, toPath: one)
        try FileManager.default.moveItem(atPath: one + ".x", toPath: two)
        expectRefused(ledger, instance, "reordered")
        try FileManager.default.removeItem(atPath: two)
        expectRefused(ledger, instance, "missing a record")
    }

    @Test func aRecordForgedUnderAnotherKeyIsRefused() throws {
        let (ledger, root) = try ledger()
        let instance = "i-forged"
        let records = try written(ledger, count: 2, instance: instance)
        let forger = Ledger(root: root, key: LedgerKey(try SecretKey.random()))
        var entry = LedgerEntry(action: .retentionClear, customerId: 9)
        entry.period = nil
        _ = try forger.write(entry, seq: 3, prev: records[1].mac, instance: instance, audit: nil, at: Date())
        expectRefused(ledger, instance, "forged")
        expectRefused(forger, instance, "read with the wrong key")
    }

    @Test func aKeyFileRoundTripsAndIsPrivate() throws {
        let (_, root) = try ledger()
        let key = LedgerKey(try SecretKey.random())
        try key.write(to: root + "/ledger.key")
        #expect(try LedgerKey.load(path: root + "/ledger.key").fingerprint == key.fingerprint)
        #expect(throws: LetheError.self) { try key.write(to: root + "/ledger.key") }
        chmod(root + "/ledger.key", 0o644)
        #expect(throws: LetheError.self) { _ = try LedgerKey.load(path: root + "/ledger.key") }
    }
}
