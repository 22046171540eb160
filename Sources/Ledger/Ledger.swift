import Foundation
import LetheCore
import LetheCrypto

/// The ledger outside the database (issue 32): every erasure, shred, retention change and hold release, one
/// authenticated, hash-chained record per file under `<root>/<database instance>/`, fsynced (file and directory)
/// before the database transaction that made it commits. A physical or point-in-time restore rolls the database's
/// registers back; the ledger does not roll back with it, and `lethe reconcile` re-applies what the database lacks.
public struct Ledger: Sendable {
    public let root: String
    let key: LedgerKey

    public init(root: String, key: LedgerKey) {
        self.root = root
        self.key = key
    }

    /// The default root, when neither --ledger nor LETHE_LEDGER names one.
    public static let defaultRoot = "/var/lib/lethe/ledger"
    /// The default key file, when neither --ledger-key nor LETHE_LEDGER_KEY names one.
    public static let defaultKeyPath = "/etc/lethe/ledger.key"

    /// Creates the root (mode 0700) if missing; refuses one others can read or write.
    public static func prepare(root: String) throws {
        if !FileManager.default.fileExists(atPath: root) {
            do {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw LetheError(.cannotCreate, "cannot create the ledger directory \(root): \(error.localizedDescription)", hint: "create it (mode 0700) as the user Lethe runs as")
            }
            try SecureFile.syncDirectory(of: root)
        }
        try requirePrivate(root)
    }

    static func requirePrivate(_ directory: String) throws {
        var info = stat()
        guard stat(directory, &info) == 0 else {
            throw LetheError.noInput("the ledger directory \(directory) does not exist", hint: "lethe ledger init --keyring FILE --ledger \(directory)")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw LetheError(.noPermission, "the ledger directory \(directory) is open to group or others (mode \(String(info.st_mode & 0o777, radix: 8)))",
                             hint: "chmod 700 \(directory)")
        }
    }

    func directory(_ instance: String) -> String { (root as NSString).appendingPathComponent(instance) }

    static func fileName(_ seq: Int64) -> String { String(format: "%016lld.json", seq) }

    /// Every record of `instance`, verified: names contiguous from 1, each record's fields matching its name and
    /// directory, each mac valid and each `prev` the mac before it. Anything else is refused (exit 79), naming the
    /// record, before any of it is used.
    public func records(instance: String) throws -> [LedgerRecord] {
        let directory = directory(instance)
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        try Self.requirePrivate(root)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        var records: [LedgerRecord] = []
        var prev = LedgerRecord.genesis
        for (index, name) in names.enumerated() {
            let seq = Int64(index + 1)
            func refuse(_ why: String) -> LetheError {
                LetheError.integrity("ledger \(directory): \(why); nothing was applied",
                                     hint: "the ledger was altered, cut or mixed with another: restore it from its off-host copy, then rerun")
            }
            guard name == Self.fileName(seq) else { throw refuse("record \(seq) is missing (found \(name) in its place)") }
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path),
                  let record = try? LedgerRecord.decoder.decode(LedgerRecord.self, from: data) else {
                throw refuse("record \(seq) is not readable (cut or altered)")
            }
            guard record.seq == seq, record.instance == instance else { throw refuse("record \(seq) is out of place (it says \(record.seq))") }
            guard try Hex.encode(key.mac(record.authenticatedBytes())) == record.mac else { throw refuse("record \(seq) does not authenticate (altered, or another key)") }
            guard record.prev == prev else { throw refuse("record \(seq) does not follow record \(seq - 1) (reordered or replaced)") }
            prev = record.mac
            records.append(record)
        }
        return records
    }

    /// Writes record `seq` durably: a temp file fsynced, linked to its final name (refused if that exists: another
    /// writer got there first), the directory fsynced. Returns the record as written.
    func write(_ entry: LedgerEntry, seq: Int64, prev: String, instance: String, audit: (id: Int64, hash: String)?, at: Date) throws -> LedgerRecord {
        let directory = directory(instance)
        if !FileManager.default.fileExists(atPath: directory) {
            try Self.requirePrivate(root)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try SecureFile.syncDirectory(of: directory)
        }
        var record = LedgerRecord(seq: seq, prev: prev, at: Timestamps.iso(at), instance: instance, entry: entry,
                                  auditId: audit?.id, auditHash: audit?.hash, mac: "")
        record.mac = Hex.encode(try key.mac(record.authenticatedBytes()))
        let path = (directory as NSString).appendingPathComponent(Self.fileName(seq))
        let temp = path + ".tmp-\(getpid())"
        unlink(temp)
        try SecureFile.createExclusive(temp, contents: Array(try LedgerRecord.encoder.encode(record)) + [0x0A])
        defer { unlink(temp) }
        guard link(temp, path) == 0 else {
            let exists = errno == EEXIST
            throw LetheError(exists ? .tempFail : .ioError, exists ? "ledger record \(seq) was written by another run meanwhile" : "cannot write \(path): \(String(cString: strerror(errno)))",
                             hint: exists ? "rerun: the next run sees it" : "check the ledger directory is writable by this user")
        }
        unlink(temp)
        try SecureFile.syncDirectory(of: path)
        return record
    }
}
