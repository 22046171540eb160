import Foundation
import Keys
import LetheCore
import LetheCrypto

/// Writes a backup file: header, then the stream in sealed chunks, under a temporary name (mode 0600)
/// that becomes `<id>.lethe-backup` only once everything is written and fsynced.
final class BackupFileWriter {
    let path: String
    let temporaryPath: String
    private let handle: FileHandle
    private let cipher: AESGCM
    private let key: SecretKey
    private let headerHash: [UInt8]
    private var pending: [UInt8] = []
    private var counter: UInt64 = 0
    private let digest: SHA256Hasher
    private(set) var bytesWritten = 0

    init(path: String, essentials: BackupEssentials, keyring: Keyring) throws {
        self.path = path
        temporaryPath = path + ".partial"
        try SecureFile.createExclusive(temporaryPath, contents: [])
        guard let handle = FileHandle(forWritingAtPath: temporaryPath) else { throw LetheError(.cannotCreate, "cannot open \(temporaryPath)") }
        self.handle = handle
        cipher = try AESGCM()
        key = try SecretKey.random()
        digest = try SHA256Hasher()
        let kek = keyring.current
        let json = Array(try BackupEssentials.encoder().encode(essentials))
        var header = BackupFormat.magic + BackupFormat.bigEndian(BackupFormat.version) + BackupFormat.bigEndian(UInt32(kek.id))
            + BackupFormat.bigEndian(UInt32(BackupFormat.chunkSize)) + BackupFormat.bigEndian(UInt32(json.count))
        header += [UInt8](repeating: 0, count: BackupFormat.wrappedKeySize) + json
        let nonce = try cipher.randomNonce()
        let wrapped = nonce + (try cipher.seal(key: try keyring.kek(kek.id).keyForWrapping, nonce: nonce, plaintext: key.unsafeRawBytes,
                                               associatedData: BackupFormat.wrapAAD(header: header)))
        header.replaceSubrange(BackupFormat.wrappedKeyOffset..<BackupFormat.wrappedKeyOffset + BackupFormat.wrappedKeySize, with: wrapped)
        headerHash = try SHA256.hash(header)
        try emit(header)
    }

    func write(_ bytes: [UInt8]) throws {
        pending += bytes
        while pending.count >= BackupFormat.chunkSize {
            try seal(Array(pending[0..<BackupFormat.chunkSize]), final: false)
            pending.removeFirst(BackupFormat.chunkSize)
        }
    }

    /// Seals the last chunk, fsyncs, renames into place. Returns the file's SHA-256 (hex) and size.
    func finish() throws -> (sha256: String, size: Int) {
        try seal(pending, final: true)
        pending = []
        try handle.synchronize()
        try handle.close()
        guard rename(temporaryPath, path) == 0 else { throw LetheError.ioError("cannot rename \(temporaryPath) into place") }
        return (Hex.encode(try digest.finish()), bytesWritten)
    }

    func abandon() {
        try? handle.close()
        unlink(temporaryPath)
    }

    private func seal(_ plaintext: [UInt8], final: Bool) throws {
        let sealed = try cipher.seal(key: key, nonce: BackupFormat.chunkNonce(counter: counter, final: final), plaintext: plaintext,
                                     associatedData: BackupFormat.chunkAAD(headerHash: headerHash, counter: counter, final: final, length: plaintext.count))
        try emit(BackupFormat.bigEndian(UInt32(plaintext.count)) + sealed)
        counter += 1
    }

    private func emit(_ bytes: [UInt8]) throws {
        try handle.write(contentsOf: bytes)
        try digest.update(bytes)
        bytesWritten += bytes.count
    }
}

/// Reads a backup file chunk by chunk, authenticating each before handing it on.
final class BackupFileReader {
    let path: String
    let essentials: BackupEssentials
    let kekId: Int
    private let input: BufferedInput
    private let header: [UInt8]

    /// Reads and parses the header only (no key needed): for list, show and expire.
    init(path: String) throws {
        self.path = path
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LetheError.noInput("cannot read backup \(path)", hint: "see 'lethe backup list'")
        }
        input = BufferedInput(handle, path: path)
        let fixed = try input.read(BackupFormat.fixedSize)
        guard fixed.count == BackupFormat.fixedSize, Array(fixed.prefix(8)) == BackupFormat.magic else {
            throw LetheError.integrity("\(path) is not a lethe backup (bad magic)")
        }
        guard UInt16(fixed[8]) << 8 | UInt16(fixed[9]) == BackupFormat.version else {
            throw LetheError.integrity("\(path) has an unsupported format version")
        }
        kekId = Int(BackupFormat.readUInt32(fixed, at: 10))
        let jsonLength = Int(BackupFormat.readUInt32(fixed, at: 18))
        guard BackupFormat.readUInt32(fixed, at: 14) == UInt32(BackupFormat.chunkSize), jsonLength < 1 << 20 else {
            throw LetheError.integrity("\(path): header is damaged")
        }
        let json = try input.read(jsonLength)
        guard json.count == jsonLength, let essentials = try? BackupEssentials.decoder().decode(BackupEssentials.self, from: Data(json)) else {
            throw LetheError.integrity("\(path): header is damaged or truncated")
        }
        header = fixed + json
        self.essentials = essentials
    }

    /// Whether the header (its dates, id and table counts included) authenticates: the data key unwraps with the
    /// header as associated data. Only then may expiry act on the dates it holds.
    func authenticatesHeader(keyring: Keyring) -> Bool {
        (try? unwrapKey(keyring: keyring)) != nil
    }

    private func unwrapKey(keyring: Keyring) throws -> SecretKey {
        let kek = try keyring.kek(kekId)
        let wrapped = Array(header[BackupFormat.wrappedKeyOffset..<BackupFormat.wrappedKeyOffset + BackupFormat.wrappedKeySize])
        guard let raw = try AESGCM().open(key: kek.keyForWrapping, nonce: Array(wrapped.prefix(AESGCM.nonceSize)),
                                          sealed: Array(wrapped.dropFirst(AESGCM.nonceSize)), associatedData: BackupFormat.wrapAAD(header: header)) else {
            throw LetheError.integrity("\(path): the header does not authenticate with key-encryption key \(kekId) of \(keyring.path)",
                                       hint: "the header was altered, or this is not the keyring the backup was made with")
        }
        return SecretKey(bytes: raw)
    }

    /// Authenticates the header (by unwrapping the data key) and every chunk, in order, handing each
    /// plaintext to `body`. Throws an integrity error at the first byte that does not authenticate.
    func readChunks(keyring: Keyring, _ body: ([UInt8]) throws -> Void) throws {
        let key = try unwrapKey(keyring: keyring)
        let cipher = try AESGCM()
        let headerHash = try SHA256.hash(header)
        var counter: UInt64 = 0
        while true {
            let lengthBytes = try input.read(4)
            guard lengthBytes.count == 4 else {
                throw LetheError.integrity("\(path) is truncated after chunk \(counter): its final chunk is missing")
            }
            let length = Int(BackupFormat.readUInt32(lengthBytes, at: 0))
            guard length <= BackupFormat.chunkSize else { throw LetheError.integrity("\(path): chunk \(counter) has an impossible length") }
            let sealed = try input.read(length + AESGCM.tagSize)
            guard sealed.count == length + AESGCM.tagSize else { throw LetheError.integrity("\(path) is truncated inside chunk \(counter)") }
            // A chunk is final if it opens as final; a chunk moved to the end, or a final one moved up, fails both ways.
            var final = false
            var plaintext = try cipher.open(key: key, nonce: BackupFormat.chunkNonce(counter: counter, final: false), sealed: sealed,
                                            associatedData: BackupFormat.chunkAAD(headerHash: headerHash, counter: counter, final: false, length: length))
            if plaintext == nil {
                plaintext = try cipher.open(key: key, nonce: BackupFormat.chunkNonce(counter: counter, final: true), sealed: sealed,
                                            associatedData: BackupFormat.chunkAAD(headerHash: headerHash, counter: counter, final: true, length: length))
                final = plaintext != nil
            }
            guard let plaintext else {
                throw LetheError.integrity("\(path): chunk \(counter) does not authenticate (altered, reordered or from another backup)")
            }
            try body(plaintext)
            counter += 1
            if final {
                guard try input.read(1).isEmpty else { throw LetheError.integrity("\(path) has data after its final chunk") }
                return
            }
        }
    }
}

/// Reads a file in large blocks and hands out exact-size pieces: two small reads per chunk would otherwise
/// cost a system call each. The first block is small, so reading only a header (list, show) stays cheap.
final class BufferedInput {
    private let handle: FileHandle
    private let path: String
    private var buffer: [UInt8] = []
    private var position = 0
    private var blockSize = 64 << 10

    init(_ handle: FileHandle, path: String) {
        self.handle = handle
        self.path = path
    }

    deinit { try? handle.close() }

    /// Up to `count` bytes; fewer only at end of file.
    func read(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            if position == buffer.count {
                guard let data = try handle.readChunk(upToCount: blockSize, what: "backup \(path)") else { break }
                buffer = Array(data)
                position = 0
                blockSize = 4 << 20
            }
            let take = min(count - out.count, buffer.count - position)
            out.append(contentsOf: buffer[position..<position + take])
            position += take
        }
        return out
    }
}
