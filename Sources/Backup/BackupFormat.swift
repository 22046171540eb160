import Foundation
import LetheCore
import LetheCrypto

/// The `.lethe-backup` file format (documented in README.md). Two ways to seal the per-backup file key:
///
///     version 1 (keyring):  "LTHBKUP1" (8) · version u16 (= 1) · KEK id u32 · chunk size u32 · essentials length u32
///                           · wrapped file key (12-byte nonce · 32-byte key sealed with AES-256-GCM · 16-byte tag)
///                           · essentials (JSON: id, times, tables and rows, versions, policy hash)
///     version 2 (public keys): "LTHBKUP1" · version u16 (= 2) · recipient count u16 · chunk size u32
///                           · essentials length u32 · per recipient: public key (32) · ephemeral public key (32)
///                           · nonce (12) · sealed file key (32 + 16-byte tag) · essentials
///     chunks:  plaintext length u32 · AES-256-GCM ciphertext · tag (16)   … the last one flagged final
///     signature (optional, after the final chunk): "LTHSIGN1" (8) · signer's Ed25519 public key (32)
///                           · header signature (64) · file signature (64)
///
/// Version 1 wraps the file key with the keyring's KEK; version 2 seals it to each recipient as age and HPKE do:
/// X25519 between a fresh ephemeral key and the recipient's key, HKDF-SHA-256 (salt: ephemeral · recipient key)
/// to an AES-256-GCM key. Either way the wrap's associated data is every other header byte (in version 2 with all
/// sealed keys zeroed), so the header authenticates with the key that opens it. Each chunk is sealed under the
/// file key with nonce = chunk counter (u64) · 0 0 0 · final flag, and associated data = SHA-256(header) · counter
/// · final flag · length, so a flipped bit, a reordered, missing or extra chunk and a truncation all fail
/// authentication before a byte reaches pg_restore.
///
/// The signature proves the backup's origin, which sealing to a public key cannot (whoever holds that key can
/// seal a file): the header signature covers "lethe backup header signature v1" · SHA-256(header), and the file
/// signature "lethe backup file signature v1" · SHA-256(header) · SHA-256(every chunk record, length prefix
/// included, in order). The header signature alone binds the chunks (their key is sealed in the header, and
/// they authenticate under it), so a listing checks only that one.
enum BackupFormat {
    static let magic = Array("LTHBKUP1".utf8)
    static let keyringVersion: UInt16 = 1
    static let recipientsVersion: UInt16 = 2
    static let chunkSize = 64 * 1024
    static let fixedSize = 8 + 2 + 4 + 4 + 4 + wrappedKeySize
    static let wrappedKeySize = AESGCM.nonceSize + 32 + AESGCM.tagSize
    static let wrappedKeyOffset = 22
    /// Version 2: the fixed part before the recipient stanzas, and one stanza.
    static let recipientsFixedSize = 8 + 2 + 2 + 4 + 4
    static let stanzaSize = 32 + 32 + AESGCM.nonceSize + 32 + AESGCM.tagSize
    static let sealedKeySize = 32 + AESGCM.tagSize
    static let maxRecipients = 64
    static let stanzaInfo = Array("lethe backup v2 file key".utf8)

    static let signatureMagic = Array("LTHSIGN1".utf8)
    static let trailerSize = 8 + 32 + 64 + 64

    static func headerSignedMessage(headerHash: [UInt8]) -> [UInt8] {
        Array("lethe backup header signature v1".utf8) + headerHash
    }

    static func fileSignedMessage(headerHash: [UInt8], chunksHash: [UInt8]) -> [UInt8] {
        Array("lethe backup file signature v1".utf8) + headerHash + chunksHash
    }

    static func chunkNonce(counter: UInt64, final: Bool) -> [UInt8] {
        bigEndian(counter) + [0, 0, 0, final ? 1 : 0]
    }

    static func chunkAAD(headerHash: [UInt8], counter: UInt64, final: Bool, length: Int) -> [UInt8] {
        headerHash + bigEndian(counter) + [final ? 1 : 0] + bigEndian(UInt32(length))
    }

    static func wrapAAD(header: [UInt8]) -> [UInt8] {
        Array(header[0..<wrappedKeyOffset]) + Array(header[(wrappedKeyOffset + wrappedKeySize)...])
    }

    /// Version 2: the header with every stanza's sealed key zeroed, the associated data of each seal.
    static func recipientsAAD(header: [UInt8], recipients: Int) -> [UInt8] {
        var aad = header
        for index in 0..<recipients {
            let end = recipientsFixedSize + (index + 1) * stanzaSize
            aad.replaceSubrange(end - sealedKeySize..<end, with: [UInt8](repeating: 0, count: sealedKeySize))
        }
        return aad
    }

    static func stanzaKey(shared: SecretKey, ephemeral: [UInt8], recipient: [UInt8]) throws -> SecretKey {
        try HKDFSHA256.derive(inputKey: shared, salt: ephemeral + recipient, info: stanzaInfo, count: 32)
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) } }
    static func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
    static func bigEndian(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }

    static func readUInt16(_ bytes: [UInt8], at offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }

    static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}

/// What a backup's header says about it: enough to list, expire and restore it without the manifest.
public struct BackupEssentials: Codable, Sendable, Equatable {
    public struct Table: Codable, Sendable, Equatable {
        public let name: String
        public let rows: Int64
        /// Data restored (false: schema only, e.g. sms.messages, which the policy keeps out of backups).
        public let data: Bool

        public init(name: String, rows: Int64, data: Bool) {
            self.name = name
            self.rows = rows
            self.data = data
        }
    }

    public let id: String
    public let createdAt: Date
    public let database: String
    public let tables: [Table]
    public let serverVersion: String
    public let pgDumpVersion: String
    public let policyHash: String
    public let compression: String

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamps.isoFractional(date))
        }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Timestamps.parseISO(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad timestamp"))
            }
            return date
        }
        return decoder
    }
}

enum BackupClock {
    /// `20261125T200102Z-3fa2`: sorts by time; the suffix keeps two backups of one second apart.
    static func newId(_ date: Date) throws -> String {
        return Timestamps.compact(date) + "-" + Hex.encode(try SecureRandom.bytes(2))
    }
}
