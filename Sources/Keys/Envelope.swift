import Foundation
import LetheCore
import Postgres
import LetheCrypto

/// Where a sealed value lives: bound into the ciphertext as associated data, so a value copied into another
/// column, table or customer's row does not open.
public struct EnvelopeContext: Sendable, Hashable {
    public let table: String
    public let column: String
    public let customer: Int64

    public init(table: String, column: String, customer: Int64) {
        self.table = table
        self.column = column
        self.customer = customer
    }

    /// Version 1 (still read) bound table, column and customer; version 2 also binds the row id, so a value moved
    /// to another row of the same customer's column does not open either.
    func associatedData(version: UInt8, keyId: Int64, row: Int64) -> [UInt8] {
        var bytes = associatedDataPrefix(version: version, keyId: keyId)
        if version >= 2 { Self.appendRow(row, to: &bytes) }
        return bytes
    }

    /// What the associated data starts with, the same for every row of this context: an import computes it once.
    func associatedDataPrefix(version: UInt8, keyId: Int64) -> [UInt8] {
        Array("lethe envelope|v\(version)|key=\(keyId)|\(table)|\(column)|customer=\(customer)".utf8)
    }

    /// Appends `|row=` and the row id's decimal digits (version 2), without building a string.
    static func appendRow(_ row: Int64, to bytes: inout [UInt8]) {
        bytes += [0x7C, 0x72, 0x6F, 0x77, 0x3D]  // "|row="
        if row < 0 { bytes.append(0x2D) }
        var divisor: UInt64 = 1
        while row.magnitude / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            bytes.append(0x30 + UInt8(row.magnitude / divisor % 10))
            divisor /= 10
        }
    }
}

/// The sealed form of a personal value:
/// `"LTH"` · version (1 byte: 2; 1 is still read) · key id (8 bytes, big-endian: the customer data key) · nonce (12 random bytes)
/// · AES-256-GCM ciphertext · tag (16 bytes). 40 bytes of overhead.
///
/// In a `text` column (a table Lethe adopted, sealed in place with no type change) the same envelope is stored in
/// its text form, as Vault's `vault:v1:` strings are: `lethe:v2:` then the binary envelope in standard base64
/// (`lethe:v` · version · `:` · base64). Both forms open the same way: every reader turns the text form back into
/// the binary one first.
public enum Envelope {
    public static let magic: [UInt8] = Array("LTH".utf8)
    /// The version written; `readableVersions` are opened.
    public static let version: UInt8 = 2
    public static let readableVersions: [UInt8] = [1, 2]
    public static let headerSize = 3 + 1 + 8 + 12

    public static func seal(_ plaintext: [UInt8], key: SecretKey, keyId: Int64, context: EnvelopeContext, row: Int64, cipher: AESGCM) throws -> [UInt8] {
        try seal(plaintext, key: key, keyId: keyId, context: context, row: row, version: version, cipher: cipher)
    }

    /// A version-1 envelope, not bound to a row: only for benchmarks that fill millions of rows from a pool of
    /// sealed values (as databases sealed before version 2 hold). Lethe's jobs always bind the row.
    public static func sealUnboundForBenchmark(_ plaintext: [UInt8], key: SecretKey, keyId: Int64, context: EnvelopeContext, cipher: AESGCM) throws -> [UInt8] {
        try seal(plaintext, key: key, keyId: keyId, context: context, row: 0, version: 1, cipher: cipher)
    }

    private static func seal(_ plaintext: [UInt8], key: SecretKey, keyId: Int64, context: EnvelopeContext, row: Int64, version: UInt8,
                             cipher: AESGCM) throws -> [UInt8] {
        try seal(plaintext, key: key, keyId: keyId, version: version, associatedData: context.associatedData(version: version, keyId: keyId, row: row),
                 cipher: cipher)
    }

    /// Seals with associated data already built (`EnvelopeContext.associatedData`, or its prefix and row).
    static func seal(_ plaintext: [UInt8], key: SecretKey, keyId: Int64, version: UInt8 = Envelope.version, associatedData: [UInt8],
                     cipher: AESGCM) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(sealedSize(plaintext.count))
        try seal(plaintext, key: key, keyId: keyId, version: version, associatedData: associatedData, cipher: cipher, appendingTo: &out)
        return out
    }

    /// As `seal`, appending the envelope to `out` (a COPY row being built: no buffer and copy per value).
    static func seal(_ plaintext: [UInt8], key: SecretKey, keyId: Int64, version: UInt8 = Envelope.version, associatedData: [UInt8],
                     cipher: AESGCM, appendingTo out: inout [UInt8]) throws {
        let nonce = try cipher.randomNonce()
        out += magic
        out.append(version)
        appendKeyId(keyId, to: &out)
        out += nonce
        try cipher.seal(key: key, nonce: nonce, plaintext: plaintext, associatedData: associatedData, appendingTo: &out)
    }

    /// With a given nonce: for the committed test vectors only (a nonce must never repeat under a key).
    static func seal(_ plaintext: [UInt8], key: SecretKey, keyId: Int64, version: UInt8, associatedData: [UInt8], nonce: [UInt8], cipher: AESGCM) throws -> [UInt8] {
        var out = magic
        out.append(version)
        appendKeyId(keyId, to: &out)
        out += nonce
        try cipher.seal(key: key, nonce: nonce, plaintext: plaintext, associatedData: associatedData, appendingTo: &out)
        return out
    }

    /// The length of a value's envelope.
    public static func sealedSize(_ plaintextCount: Int) -> Int { headerSize + plaintextCount + AESGCM.tagSize }

    /// True when `bytes` has the envelope's shape, in either form (it may still fail to open).
    public static func looksSealed(_ bytes: [UInt8]) -> Bool { binaryForm(bytes) != nil }

    private static func hasBinaryShape(_ bytes: [UInt8]) -> Bool {
        bytes.count >= headerSize + AESGCM.tagSize && bytes.starts(with: magic) && readableVersions.contains(bytes[3])
    }

    /// The text form's prefix for a version: `lethe:v2:`.
    public static func textPrefix(version: UInt8) -> String { "lethe:v\(version):" }

    /// The text form of a binary envelope (`lethe:v2:` and base64), for a `text` column.
    public static func textForm(_ envelope: [UInt8]) -> [UInt8] {
        Array((textPrefix(version: envelope[3]) + Data(envelope).base64EncodedString()).utf8)
    }

    /// The binary envelope `bytes` holds, in the binary form or the text form; nil when it is neither. A text
    /// form whose prefix and inner version disagree is not an envelope.
    public static func binaryForm(_ bytes: [UInt8]) -> [UInt8]? {
        if hasBinaryShape(bytes) { return bytes }
        // "lethe:v" · version digit · ":"
        guard bytes.count > 9, bytes.starts(with: textMagic), bytes[8] == 0x3A, (0x30...0x39).contains(bytes[7]),
              let decoded = Data(base64Encoded: Data(bytes[9...])).map(Array.init), hasBinaryShape(decoded), decoded[3] == bytes[7] - 0x30 else { return nil }
        return decoded
    }

    private static let textMagic: [UInt8] = Array("lethe:v".utf8)

    /// The data key id an envelope names, or nil when it is not an envelope.
    public static func keyId(of bytes: [UInt8]) -> Int64? {
        guard let bytes = binaryForm(bytes) else { return nil }
        return bytes[4..<12].reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    /// Opens an envelope (either form); nil when it is not one or fails authentication.
    public static func open(_ stored: [UInt8], key: SecretKey, context: EnvelopeContext, row: Int64, cipher: AESGCM) throws -> [UInt8]? {
        guard let bytes = binaryForm(stored), let keyId = keyId(of: bytes) else { return nil }
        let nonce = Array(bytes[12..<24])
        return try cipher.open(key: key, nonce: nonce, sealed: Array(bytes[headerSize...]),
                               associatedData: context.associatedData(version: bytes[3], keyId: keyId, row: row))
    }

    /// SQL: the column's value starts like an envelope of a readable version (in a `text` column, its text form).
    /// Binds no value, so the same text serves in DDL: the CHECK of `lethe constraints apply`.
    public static func hasSealedHeader(_ column: SQLIdentifier, form: SealedColumnForm = .binary) -> SQL {
        // Lethe's own constants (hex headers, ASCII prefixes): no outside text.
        let literals = readableVersions.map { form == .binary ? "'\\x\(Hex.encode(magic + [$0]))'::bytea" : "'\(textPrefix(version: $0))'" }
        let head: SQL = form == .binary ? "substring(\(column) FROM 1 FOR 4)" : "left(\(column), 9)"
        return "\(head) IN (\(unsafeRaw: literals.joined(separator: ", ")))"
    }

    /// The key id's 8 bytes, big-endian.
    static func appendKeyId(_ id: Int64, to bytes: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: id >> shift)) }
    }
}
