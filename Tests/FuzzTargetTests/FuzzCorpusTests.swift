import Foundation
import FuzzTargets
import Testing
import TestSupport

/// Replays the committed corpus of every fuzz target (and every finding kept under Fuzz/findings) through
/// the same contract the fuzzer checks, so a regression fails `make test` without running libFuzzer.
@Suite struct FuzzCorpusTests {
    static let root = LetheProcess.packageRoot.appendingPathComponent("Fuzz")

    static func inputs(_ target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        var found: [(String, [UInt8])] = []
        for folder in ["corpus", "findings"] {
            let directory = root.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { continue }
            for name in names.sorted() {
                found.append(("\(folder)/\(target.rawValue)/\(name)", Array(try Data(contentsOf: directory.appendingPathComponent(name)))))
            }
        }
        return found
    }

    @Test(arguments: FuzzTarget.allCases)
    func theCorpusKeepsTheContract(_ target: FuzzTarget) throws {
        let harness = try FuzzHarness(policyPath: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path)
        defer { harness.close() }
        let inputs = try Self.inputs(target)
        #expect(inputs.count >= 3, "every target has a seed corpus")
        for input in inputs {
            do {
                try harness.run(target, input.bytes)
            } catch {
                Issue.record("\(input.name): \(error)")
            }
        }
    }

    /// The backup property at every byte boundary that matters: each chunk's length field, body and tag, cut,
    /// flipped, moved or duplicated, is refused with exit 79.
    @Test func everyAlterationOfABackupIsRefused() throws {
        let harness = try FuzzHarness(policyPath: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path)
        defer { harness.close() }
        let size = harness.sampleBackupBytes.count
        var offsets = [0, 8, 10, 14, 18, 22, 60, 81, 82, 200, size - 1, size - 17, size - 1020]
        for chunk in 0..<4 { offsets += [300 + chunk * 65_556, 310 + chunk * 65_556, 65_800 + chunk * 65_556] }
        for offset in offsets where offset >= 0 && offset < size {
            for operation: UInt8 in 0..<6 {
                let input = [operation] + withUnsafeBytes(of: UInt32(offset).bigEndian, Array.init) + [0x01, 0x10, 0x41]
                #expect(throws: Never.self, "operation \(operation) at \(offset)") { try harness.run(.backupTamper, input) }
            }
        }
    }

    /// The same for a backup sealed to two public keys: every field of both recipients' stanzas (public key,
    /// ephemeral key, nonce, sealed file key), the counts and lengths, the essentials and the chunks.
    @Test func everyAlterationOfABackupSealedToPublicKeysIsRefused() throws {
        let harness = try FuzzHarness(policyPath: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path)
        defer { harness.close() }
        let size = harness.sampleRecipientBackupBytes.count
        var offsets = [0, 8, 9, 10, 11, 12, 16, 19, size - 1, size - 17]
        for stanza in 0..<2 { offsets += [0, 31, 32, 63, 64, 75, 76, 100, 123].map { 20 + stanza * 124 + $0 } }
        offsets += [268, 300, 400, 700]
        for offset in offsets where offset >= 0 && offset < size {
            for operation: UInt8 in 0..<6 {
                let input = [0x80 | operation] + withUnsafeBytes(of: UInt32(offset).bigEndian, Array.init) + [0x01, 0x10, 0x41]
                #expect(throws: Never.self, "operation \(operation) at \(offset)") { try harness.run(.backupTamper, input) }
            }
        }
        try harness.run(.backup, harness.sampleRecipientBackupBytes)
    }

    /// The contract can fail: a genuine backup given to the plain backup target authenticates, and that is
    /// allowed only for the genuine sample; altered by one byte it must not.
    @Test func theGenuineSampleIsTheOnlyFileThatAuthenticates() throws {
        let harness = try FuzzHarness(policyPath: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path)
        defer { harness.close() }
        try harness.run(.backup, harness.sampleBackupBytes)
        var altered = harness.sampleBackupBytes
        altered[altered.count / 2] ^= 0x80
        try harness.run(.backup, altered)
    }
}
