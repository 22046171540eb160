import Foundation
import Keys
import LetheCore
import LetheCrypto
import Logging
import Policy

/// A directory of backups: `<id>.lethe-backup` (mode 0600) and its manifest `<id>.json`. Only a file under its
/// final name is a backup; `.partial` files are unfinished (a killed run) and are never listed as complete.
public struct BackupRepository: Sendable {
    public let directory: String

    public init(directory: String) throws {
        self.directory = directory
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw LetheError(.cannotCreate, "cannot create backup repository \(directory)", hint: "check the parent directory's permissions")
            }
        } else if !isDirectory.boolValue {
            throw LetheError(.cannotCreate, "backup repository \(directory) is not a directory")
        } else if let old = try SecureFile.tightenDirectory(directory) {
            Logger(label: "lethe.backup").warning("backup repository was open to group or others; made private (0700)",
                                                  metadata: ["directory": "\(directory)", "old_mode": "\(old)"])
        }
    }

    public func backupPath(_ id: String) -> String { (directory as NSString).appendingPathComponent("\(id).lethe-backup") }
    public func manifestPath(_ id: String) -> String { (directory as NSString).appendingPathComponent("\(id).json") }

    public struct Entry: Sendable, Encodable {
        public let id: String
        public let createdAt: Date
        public let size: Int
        public let tables: [BackupEssentials.Table]
        public let hasManifest: Bool
        /// Whether the header (its date included) authenticates under the keyring and names this id; nil when
        /// listed without a keyring, so the date is only what the file says.
        public var headerAuthenticated: Bool? = nil
        /// What the header says seals the file key: "KEK 1", or public-key fingerprints.
        public let sealedTo: String
        /// Who made it, as far as the header, the keys and the trusted signers given prove.
        public var origin: BackupOrigin = .unverified("listed without a key or a trusted signer")
    }

    /// Complete backups, oldest first (headers parsed; nothing decrypted). With a keyring, each header is also
    /// authenticated (one key unwrap per file), so its date can be trusted.
    public func list(keys: BackupOpeningKeys? = nil) throws -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var entries: [Entry] = []
        for name in names where name.hasSuffix(".lethe-backup") {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let reader = try? BackupFileReader(path: path) else { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            let id = String(name.dropLast(".lethe-backup".count))
            var entry = Entry(id: id, createdAt: reader.essentials.createdAt, size: size, tables: reader.essentials.tables,
                              hasManifest: FileManager.default.fileExists(atPath: manifestPath(id)), sealedTo: reader.sealedTo)
            if let keys, !keys.privateKeys.isEmpty || keys.keyring != nil {
                entry.headerAuthenticated = reader.essentials.id == id && reader.authenticatesHeader(keys: keys)
            }
            entry.origin = Self.origin(of: reader, id: id, headerAuthenticated: entry.headerAuthenticated, signers: keys?.signers ?? [])
            entries.append(entry)
        }
        return entries.sorted { $0.createdAt < $1.createdAt }
    }

    /// A listing's origin: from the header signature (no chunk read), or the keyring for format 1.
    static func origin(of reader: BackupFileReader, id: String, headerAuthenticated: Bool?, signers: [BackupSigner]) -> BackupOrigin {
        let signature = reader.essentials.id == id ? (try? reader.signature()) ?? nil : nil
        let origin = BackupOrigin.of(signature, keyringSealed: reader.kekId, trusted: signers)
        // A trusted signature proves the header on its own; anything else only once the header authenticates.
        if case .signed = origin { return origin }
        guard headerAuthenticated == true else {
            return .unverified(headerAuthenticated == false ? "its header does not authenticate" : "listed without a key that opens it or a signer that signed it")
        }
        return origin
    }

    public struct ChecksumCheck: Sendable, Encodable {
        public let id: String
        public let expected: String
        public let actual: String
        public var matches: Bool { expected == actual }
    }

    /// The file's SHA-256 against the one its manifest records: needs no key, so a copy can be checked anywhere.
    /// It proves the copy equals what was written, not that the file is authentic (the manifest is not sealed).
    public func checksum(_ id: String) throws -> ChecksumCheck {
        _ = try reader(id)
        struct Recorded: Decodable { let sha256: String }
        guard let data = FileManager.default.contents(atPath: manifestPath(id)),
              let recorded = try? JSONDecoder().decode(Recorded.self, from: data) else {
            throw LetheError.noInput("backup \(id) has no readable manifest (\(manifestPath(id)))",
                                     hint: "--checksum-only compares with the manifest; without it, verify with the backup key")
        }
        return ChecksumCheck(id: id, expected: recorded.sha256.lowercased(), actual: try FileDigest.sha256(path: backupPath(id)))
    }

    /// Files a killed backup left behind.
    func partials() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".partial") }
            .map { (directory as NSString).appendingPathComponent($0) }
    }

    /// What backup `id`'s header says (not yet authenticated: `BackupVerifier` does that).
    public func essentials(_ id: String) throws -> BackupEssentials { try reader(id).essentials }

    func reader(_ id: String) throws -> BackupFileReader {
        guard !id.contains("/"), FileManager.default.fileExists(atPath: backupPath(id)) else {
            throw LetheError.noInput("no backup \(id) in \(directory)", hint: "see 'lethe backup list'")
        }
        let reader = try BackupFileReader(path: backupPath(id))
        // The id inside the file is covered by its authentication: a file renamed to another backup's name (an
        // older backup substituted for a newer one) is refused.
        guard reader.essentials.id == id else {
            throw LetheError.integrity("backup file \(backupPath(id)) holds backup \(reader.essentials.id), not \(id)",
                                       hint: "a backup was renamed or substituted: do not restore it; restore by the id it holds, after 'lethe backup verify'")
        }
        return reader
    }

    public struct ExpiryPlan: Sendable, Encodable {
        public var remove: [String] = []
        public var keep: [String] = []
        /// Why each removal: "older than six months" or "past the keep period".
        public var reasons: [String: String] = [:]
        /// Backups whose header does not authenticate (altered, renamed, or another keyring's): their dates cannot be
        /// trusted, so expiry neither keeps nor removes them by date. The operator decides (exit 79).
        public var untrusted: [String] = []
    }

    /// Backups past `keep` go, and always any older than six months; the newest valid backup stays while it is
    /// within six months, even past `keep` (so a repository is never emptied by expiry alone).
    /// Dates are acted on only for backups whose header authenticates under `keyring` (read once, by `list`).
    public func expiryPlan(now: Date, keep: ISODuration, keys: BackupOpeningKeys, newestValid: (Entry) -> Bool) throws -> ExpiryPlan {
        var plan = ExpiryPlan()
        let all = try list(keys: keys)
        plan.untrusted = all.filter { $0.headerAuthenticated != true }.map(\.id)
        let entries = all.filter { $0.headerAuthenticated == true }
        let calendar = Calendar(identifier: .gregorian).withUTC
        let ceiling = calendar.date(byAdding: .month, value: -6, to: now)!
        var keepLimit = calendar.date(byAdding: .month, value: -keep.months, to: now)!
        keepLimit = calendar.date(byAdding: .day, value: -keep.days, to: keepLimit)!.addingTimeInterval(-Double(keep.seconds))
        let protected = entries.reversed().first { $0.createdAt >= ceiling && newestValid($0) }?.id
        for entry in entries {
            if entry.createdAt < ceiling {
                plan.remove.append(entry.id)
                plan.reasons[entry.id] = "older than six months"
            } else if entry.createdAt < max(keepLimit, ceiling) && entry.id != protected {
                plan.remove.append(entry.id)
                plan.reasons[entry.id] = "past the keep period (\(keep))"
            } else {
                plan.keep.append(entry.id)
            }
        }
        return plan
    }

    func remove(_ id: String) throws {
        try FileManager.default.removeItem(atPath: backupPath(id))
        try? FileManager.default.removeItem(atPath: manifestPath(id))
    }
}

extension Calendar {
    var withUTC: Calendar {
        var calendar = self
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }
}
