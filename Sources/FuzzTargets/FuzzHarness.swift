import Backup
import Foundation
import Intake
import Keys
import LetheCore
import LetheCrypto
import Phone
import Policy

/// A broken contract: the fuzzer turns it into a crash with this text, the test suite into a failure.
public struct FuzzContractViolation: Error, CustomStringConvertible {
    public let target: FuzzTarget
    public let what: String
    public var description: String { "\(target.rawValue): \(what)" }
}

/// Runs one input through one target and checks its contract. One harness per process: it owns a scratch
/// directory (mode 0700, removed by `close()`), a throwaway keyring and a genuine sample backup.
public final class FuzzHarness {
    let scratch: String
    let policy: RetentionPolicy
    let keyring: Keyring
    let sampleBackup: [UInt8]
    let sampleStream: [UInt8]
    let cipher: AESGCM
    let cbc: LegacyAES128CBC
    let envelopeKey = SecretKey(bytes: Array(0..<32))
    let backupKey: BackupPrivateKey
    let sampleRecipientBackup: [UInt8]
    var openingKeys: BackupOpeningKeys { BackupOpeningKeys(keyring: keyring, privateKeys: [backupKey]) }
    let legacyKey = SecretKey(bytes: Array(100..<116))

    public init(policyPath: String) throws {
        var template = Array((NSTemporaryDirectory() + "lethe-fuzz-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw LetheError(.cannotCreate, "cannot create a scratch directory for fuzzing") }
        scratch = String(cString: made)
        policy = try PolicyLoader.load(path: policyPath)
        keyring = try Keyring.create(at: scratch + "/keyring")
        // Three chunks and a short final one, so chunks can be moved, duplicated and dropped.
        sampleStream = (0..<(3 * 65_536 + 1000)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try BackupFileCheck.writeSample(path: scratch + "/sample.lethe-backup", payload: sampleStream, sealing: .keyring(keyring))
        sampleBackup = Array(try Data(contentsOf: URL(fileURLWithPath: scratch + "/sample.lethe-backup")))
        // The same stream sealed to two public keys (format 2), opened with the second one's private key.
        backupKey = try BackupPrivateKey.create(at: scratch + "/backup-key")
        let other = try BackupPrivateKey.create(at: scratch + "/other-key")
        try BackupFileCheck.writeSample(path: scratch + "/sample-pub.lethe-backup", payload: sampleStream,
                                        sealing: .recipients([other.recipient, backupKey.recipient]))
        sampleRecipientBackup = Array(try Data(contentsOf: URL(fileURLWithPath: scratch + "/sample-pub.lethe-backup")))
        cipher = try AESGCM()
        cbc = try LegacyAES128CBC()
    }

    public func close() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// The genuine sample backup, for seeding corpora.
    public var sampleBackupBytes: [UInt8] { sampleBackup }
    /// The genuine sample sealed to two public keys (format 2).
    public var sampleRecipientBackupBytes: [UInt8] { sampleRecipientBackup }

    public func run(_ target: FuzzTarget, _ input: [UInt8]) throws(FuzzContractViolation) {
        switch target {
        case .csv: try intake(input, format: "csv", target)
        case .jsonl: try intake(input, format: "jsonl", target)
        case .policy: try policyFile(input)
        case .backup: try backupFile(input)
        case .backupTamper: try backupTamper(input)
        case .envelope: try envelope(input)
        case .legacyCBC: try legacyValue(input)
        }
    }

    // MARK: targets

    private func intake(_ input: [UInt8], format: String, _ target: FuzzTarget) throws(FuzzContractViolation) {
        let path = scratch + "/input." + format
        write(input, to: path)
        // The first byte picks the kind, so both schemas are reached from one corpus.
        let kind: IntakeKind = (input.first ?? 0) & 1 == 0 ? .messages : .contacts
        let report: ImportReport
        do {
            report = try Importer(policy: policy).validate(kind: kind, path: path, options: ImportOptions(format: format, defaultRegion: "FR"))
        } catch {
            return try expectTyped(error, target)
        }
        // Reports are for operators: a field is named only when it is shaped like a name, never by a value.
        for problem in report.problems where problem.field != "(a key)" && !ImportReport.mayShowFieldName(problem.field) {
            throw FuzzContractViolation(target: target, what: "a report names a field by a value-shaped text")
        }
        for unknown in report.unknownFields where !ImportReport.mayShowFieldName(unknown.field) {
            throw FuzzContractViolation(target: target, what: "a report echoes an unknown header that is not name-shaped")
        }
        guard report.rowsValid <= report.rowsRead, report.rowsWritten == 0 else {
            throw FuzzContractViolation(target: target, what: "a validation counted more valid rows than it read, or wrote")
        }
    }

    private func policyFile(_ input: [UInt8]) throws(FuzzContractViolation) {
        let policy: RetentionPolicy
        do {
            policy = try PolicyLoader.parse(bytes: input, source: "fuzz.yaml")
        } catch {
            return try expectTyped(error, .policy)
        }
        for table in policy.tables where !(table.retention ?? .ceiling).neverExceeds(.ceiling) {
            throw FuzzContractViolation(target: .policy, what: "a policy loaded with a retention above the ceiling")
        }
        guard policy.backup.keep.neverExceeds(.ceiling) else {
            throw FuzzContractViolation(target: .policy, what: "a policy loaded with a backup keep above the ceiling")
        }
    }

    private func backupFile(_ input: [UInt8]) throws(FuzzContractViolation) {
        let path = scratch + "/input.lethe-backup"
        write(input, to: path)
        do {
            let stream = try BackupFileCheck.authenticate(path: path, keys: openingKeys)
            guard input == sampleBackup || input == sampleRecipientBackup, stream == sampleStream else {
                throw FuzzContractViolation(target: .backup, what: "a file that is not the genuine sample authenticated")
            }
        } catch let violation as FuzzContractViolation {
            throw violation
        } catch {
            try expectTyped(error, .backup)
        }
    }

    /// Input: operation (1 byte) · offset (4 bytes) · length or argument (2 bytes) · bytes to insert.
    private func backupTamper(_ input: [UInt8]) throws(FuzzContractViolation) {
        guard input.count >= 7 else { return }
        let offset = Int(input[1]) << 24 | Int(input[2]) << 16 | Int(input[3]) << 8 | Int(input[4])
        let argument = Int(input[5]) << 8 | Int(input[6])
        let extra = Array(input.dropFirst(7))
        // The high bit picks the sample: sealed with the keyring (format 1) or to public keys (format 2).
        let sample = input[0] & 0x80 == 0 ? sampleBackup : sampleRecipientBackup
        var file = sample
        let at = offset % file.count
        switch input[0] % 6 {
        case 0: file[at] ^= UInt8(truncatingIfNeeded: argument) | 1                     // flip bits
        case 1: file.removeSubrange(at...)                                                // cut anywhere
        case 2: file.insert(contentsOf: extra.isEmpty ? [0] : extra, at: at)              // insert bytes
        case 3: file += extra.isEmpty ? [0] : extra                                        // append after the end
        case 4:                                                                            // remove a range
            file.removeSubrange(at..<min(file.count, at + 1 + argument))
        default:                                                                           // duplicate a range elsewhere
            let length = 1 + argument % 4096
            let piece = Array(file[at..<min(file.count, at + length)])
            file.insert(contentsOf: piece, at: (offset >> 8) % file.count)
        }
        guard file != sample else { return }
        let path = scratch + "/tampered.lethe-backup"
        write(file, to: path)
        do {
            _ = try BackupFileCheck.authenticate(path: path, keys: openingKeys)
        } catch {
            let lethe = error.asLetheError
            guard error is any LetheErrorConvertible, lethe.code == .integrity else {
                throw FuzzContractViolation(target: .backupTamper, what: "an altered backup failed with exit \(lethe.code.rawValue), not 79")
            }
            return
        }
        throw FuzzContractViolation(target: .backupTamper, what: "an altered backup authenticated (operation \(input[0] % 6), offset \(at))")
    }

    /// Input: customer id (8 bytes) · row id (8 bytes) · plaintext.
    private func envelope(_ input: [UInt8]) throws(FuzzContractViolation) {
        let customer = input.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
        let row = input.dropFirst(8).prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
        let plaintext = Array(input.dropFirst(16))
        let context = EnvelopeContext(table: "sms.messages", column: "body", customer: customer)
        do {
            // Arbitrary bytes never open (a forgery would need the key).
            if try Envelope.open(input, key: envelopeKey, context: context, row: row, cipher: cipher) != nil {
                throw FuzzContractViolation(target: .envelope, what: "bytes not made by seal opened")
            }
            let sealed = try Envelope.seal(plaintext, key: envelopeKey, keyId: customer, context: context, row: row, cipher: cipher)
            guard try Envelope.open(sealed, key: envelopeKey, context: context, row: row, cipher: cipher) == plaintext else {
                throw FuzzContractViolation(target: .envelope, what: "seal then open did not give the input back")
            }
            // Under another customer's context the same envelope does not open.
            let other = EnvelopeContext(table: "sms.messages", column: "body", customer: customer &+ 1)
            if try Envelope.open(sealed, key: envelopeKey, context: other, row: row, cipher: cipher) != nil {
                throw FuzzContractViolation(target: .envelope, what: "an envelope opened under another customer")
            }
            // Nor in another row.
            if try Envelope.open(sealed, key: envelopeKey, context: context, row: row &+ 1, cipher: cipher) != nil {
                throw FuzzContractViolation(target: .envelope, what: "an envelope opened in another row")
            }
        } catch let violation as FuzzContractViolation {
            throw violation
        } catch {
            try expectTyped(error, .envelope)
        }
    }

    private func legacyValue(_ input: [UInt8]) throws(FuzzContractViolation) {
        do {
            guard let plaintext = try cbc.open(legacyValue: input, key: legacyKey) else { return }
            // What a migration does next with a recipient column.
            if let text = String(validating: plaintext, as: UTF8.self) {
                _ = PhoneNumber.parse(text, defaultRegion: "FR", rules: policy.phoneRules)
            }
        } catch {
            try expectTyped(error, .legacyCBC)
        }
    }

    // MARK: contract

    private func expectTyped(_ error: any Error, _ target: FuzzTarget) throws(FuzzContractViolation) {
        guard let convertible = error as? any LetheErrorConvertible else {
            throw FuzzContractViolation(target: target, what: "an untyped error escaped: \(type(of: error))")
        }
        let lethe = convertible.letheError
        guard lethe.code != .success, lethe.code != .software else {
            throw FuzzContractViolation(target: target, what: "a failure reported exit \(lethe.code.rawValue)")
        }
        guard lethe.hint != nil || !lethe.message.isEmpty else {
            throw FuzzContractViolation(target: target, what: "an error without a message")
        }
    }

    private func write(_ bytes: [UInt8], to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
    }
}
