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
    /// The chunk records as written, for the file signature.
    private let chunksDigest: SHA256Hasher
    private let signingKey: BackupSigningKey?
    private(set) var bytesWritten = 0

    init(path: String, essentials: BackupEssentials, sealing: BackupSealing, signingKey: BackupSigningKey? = nil) throws {
        self.path = path
        temporaryPath = path + ".partial"
        cipher = try AESGCM()
        key = try SecretKey.random()
        digest = try SHA256Hasher()
        chunksDigest = try SHA256Hasher()
        self.signingKey = signingKey
        let json = Array(try BackupEssentials.encoder().encode(essentials))
        let header = try Self.header(json: json, key: key, sealing: sealing, cipher: cipher)
        headerHash = try SHA256.hash(header)
        try SecureFile.createExclusive(temporaryPath, contents: [])
        guard let handle = FileHandle(forWritingAtPath: temporaryPath) else { throw LetheError(.cannotCreate, "cannot open \(temporaryPath)") }
        self.handle = handle
        try emit(header)
    }

    private static func header(json: [UInt8], key: SecretKey, sealing: BackupSealing, cipher: AESGCM) throws -> [UInt8] {
        switch sealing {
        case .keyring(let keyring):
            let kek = keyring.current
            var header = BackupFormat.magic + BackupFormat.bigEndian(BackupFormat.keyringVersion) + BackupFormat.bigEndian(UInt32(kek.id))
                + BackupFormat.bigEndian(UInt32(BackupFormat.chunkSize)) + BackupFormat.bigEndian(UInt32(json.count))
            header += [UInt8](repeating: 0, count: BackupFormat.wrappedKeySize) + json
            let nonce = try cipher.randomNonce()
            let wrapped = nonce + (try cipher.seal(key: kek.keyForWrapping, nonce: nonce, plaintext: key.unsafeRawBytes,
                                                   associatedData: BackupFormat.wrapAAD(header: header)))
            header.replaceSubrange(BackupFormat.wrappedKeyOffset..<BackupFormat.wrappedKeyOffset + BackupFormat.wrappedKeySize, with: wrapped)
            return header
        case .recipients(let recipients):
            guard !recipients.isEmpty, recipients.count <= BackupFormat.maxRecipients else {
                throw LetheError.usage("a backup needs 1 to \(BackupFormat.maxRecipients) recipients")
            }
            var header = BackupFormat.magic + BackupFormat.bigEndian(BackupFormat.recipientsVersion) + BackupFormat.bigEndian(UInt16(recipients.count))
                + BackupFormat.bigEndian(UInt32(BackupFormat.chunkSize)) + BackupFormat.bigEndian(UInt32(json.count))
            var stanzaKeys: [(SecretKey, [UInt8])] = []
            for recipient in recipients {
                let ephemeral = try X25519.newPrivateKey()
                let ephemeralPublic = try X25519.publicKey(of: ephemeral)
                guard let shared = try X25519.sharedSecret(privateKey: ephemeral, peer: recipient.publicKey) else {
                    throw LetheError.dataError("the backup public key \(recipient.source) is not usable (a degenerate X25519 key)")
                }
                let nonce = try cipher.randomNonce()
                stanzaKeys.append((try BackupFormat.stanzaKey(shared: shared, ephemeral: ephemeralPublic, recipient: recipient.publicKey), nonce))
                header += recipient.publicKey + ephemeralPublic + nonce + [UInt8](repeating: 0, count: BackupFormat.sealedKeySize)
            }
            header += json
            let aad = BackupFormat.recipientsAAD(header: header, recipients: recipients.count)
            for (index, (stanzaKey, nonce)) in stanzaKeys.enumerated() {
                let end = BackupFormat.recipientsFixedSize + (index + 1) * BackupFormat.stanzaSize
                header.replaceSubrange(end - BackupFormat.sealedKeySize..<end,
                                       with: try cipher.seal(key: stanzaKey, nonce: nonce, plaintext: key.unsafeRawBytes, associatedData: aad))
            }
            return header
        }
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
        if let signingKey {
            let chunksHash = try chunksDigest.finish()
            try emit(BackupFormat.signatureMagic + signingKey.signer.publicKey
                     + (try signingKey.sign(BackupFormat.headerSignedMessage(headerHash: headerHash)))
                     + (try signingKey.sign(BackupFormat.fileSignedMessage(headerHash: headerHash, chunksHash: chunksHash))))
        }
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
        let record = BackupFormat.bigEndian(UInt32(plaintext.count)) + sealed
        try chunksDigest.update(record)
        try emit(record)
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
    /// How the file key is sealed, as the header says (not yet authenticated).
    enum Sealing {
        case kek(id: Int)
        case recipients([(publicKey: [UInt8], ephemeral: [UInt8], nonce: [UInt8], sealed: [UInt8])])
    }

    let path: String
    let essentials: BackupEssentials
    let sealing: Sealing
    private let input: BufferedInput
    private let header: [UInt8]

    /// Reads and parses the header only (no key needed): for list, show and expire.
    init(path: String) throws {
        self.path = path
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LetheError.noInput("cannot read backup \(path)", hint: "see 'lethe backup list'")
        }
        input = BufferedInput(handle, path: path)
        let start = try input.read(10)
        guard start.count == 10, Array(start.prefix(8)) == BackupFormat.magic else {
            throw LetheError.integrity("\(path) is not a lethe backup (bad magic)")
        }
        var fixed = start
        let jsonLength: Int
        switch BackupFormat.readUInt16(start, at: 8) {
        case BackupFormat.keyringVersion:
            fixed += try input.read(BackupFormat.fixedSize - 10)
            guard fixed.count == BackupFormat.fixedSize else { throw LetheError.integrity("\(path): header is truncated") }
            guard BackupFormat.readUInt32(fixed, at: 14) == UInt32(BackupFormat.chunkSize) else { throw LetheError.integrity("\(path): header is damaged") }
            sealing = .kek(id: Int(BackupFormat.readUInt32(fixed, at: 10)))
            jsonLength = Int(BackupFormat.readUInt32(fixed, at: 18))
        case BackupFormat.recipientsVersion:
            fixed += try input.read(BackupFormat.recipientsFixedSize - 10)
            guard fixed.count == BackupFormat.recipientsFixedSize else { throw LetheError.integrity("\(path): header is truncated") }
            let count = Int(BackupFormat.readUInt16(fixed, at: 10))
            guard (1...BackupFormat.maxRecipients).contains(count), BackupFormat.readUInt32(fixed, at: 12) == UInt32(BackupFormat.chunkSize) else {
                throw LetheError.integrity("\(path): header is damaged")
            }
            jsonLength = Int(BackupFormat.readUInt32(fixed, at: 16))
            let stanzas = try input.read(count * BackupFormat.stanzaSize)
            guard stanzas.count == count * BackupFormat.stanzaSize else { throw LetheError.integrity("\(path): header is truncated") }
            fixed += stanzas
            sealing = .recipients((0..<count).map { index in
                let stanza = Array(stanzas[index * BackupFormat.stanzaSize..<(index + 1) * BackupFormat.stanzaSize])
                return (Array(stanza[0..<32]), Array(stanza[32..<64]), Array(stanza[64..<64 + AESGCM.nonceSize]),
                        Array(stanza[(64 + AESGCM.nonceSize)...]))
            })
        default:
            throw LetheError.integrity("\(path) has an unsupported format version")
        }
        guard jsonLength < 1 << 20 else { throw LetheError.integrity("\(path): header is damaged") }
        let json = try input.read(jsonLength)
        guard json.count == jsonLength, let essentials = try? BackupEssentials.decoder().decode(BackupEssentials.self, from: Data(json)) else {
            throw LetheError.integrity("\(path): header is damaged or truncated")
        }
        header = fixed + json
        self.essentials = essentials
    }

    /// The signature trailer, read from the end of the file without reading the chunks (nil: unsigned). Its
    /// header signature is checked here; the file signature only by a full read (`readChunks`).
    func signature() throws -> BackupSignature? {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw LetheError.noInput("cannot read backup \(path)") }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        guard size >= UInt64(header.count + BackupFormat.trailerSize) else { return nil }
        try handle.seek(toOffset: size - UInt64(BackupFormat.trailerSize))
        let bytes = Array(try handle.read(upToCount: BackupFormat.trailerSize) ?? Data())
        guard bytes.count == BackupFormat.trailerSize, Array(bytes.prefix(8)) == BackupFormat.signatureMagic else { return nil }
        return BackupSignature(trailer: bytes, headerValid: Ed25519.isValid(Array(bytes[40..<104]),
                                                                            of: BackupFormat.headerSignedMessage(headerHash: try SHA256.hash(header)),
                                                                            publicKey: Array(bytes[8..<40])))
    }

    /// The KEK of a format 1 file (sealed with a keyring: only a keyring holder can make one); nil for format 2.
    var kekId: Int? {
        if case .kek(let id) = sealing { return id }
        return nil
    }

    /// What the header says seals the file key, for listings: "KEK 2" or the recipients' fingerprints.
    var sealedTo: String {
        switch sealing {
        case .kek(let id): "KEK \(id)"
        case .recipients(let stanzas):
            stanzas.map { BackupRecipient(publicKey: $0.publicKey, source: path).fingerprint }.joined(separator: ",")
        }
    }

    /// Whether the header (its dates, id and table counts included) authenticates: the file key opens with the
    /// header as associated data. Only then may expiry act on the dates it holds.
    func authenticatesHeader(keys: BackupOpeningKeys) -> Bool {
        (try? unwrapKey(keys: keys)) != nil
    }

    private func unwrapKey(keys: BackupOpeningKeys) throws -> SecretKey {
        let cipher = try AESGCM()
        switch sealing {
        case .kek(let kekId):
            guard let keyring = keys.keyring else {
                throw LetheError.config("\(path) is sealed with key-encryption key \(kekId) of a keyring, and no keyring was given",
                                        hint: "pass --keyring FILE or set LETHE_KEYRING")
            }
            let kek = try keyring.kek(kekId)
            let wrapped = Array(header[BackupFormat.wrappedKeyOffset..<BackupFormat.wrappedKeyOffset + BackupFormat.wrappedKeySize])
            guard let raw = try cipher.open(key: kek.keyForWrapping, nonce: Array(wrapped.prefix(AESGCM.nonceSize)),
                                            sealed: Array(wrapped.dropFirst(AESGCM.nonceSize)), associatedData: BackupFormat.wrapAAD(header: header)) else {
                throw LetheError.integrity("\(path): the header does not authenticate with key-encryption key \(kekId) of \(keyring.path)",
                                           hint: "the header was altered, or this is not the keyring the backup was made with")
            }
            return SecretKey(bytes: raw)
        case .recipients(let stanzas):
            let mine = stanzas.compactMap { stanza in
                keys.privateKeys.first { $0.recipient.publicKey == stanza.publicKey }.map { (stanza, $0) }
            }
            guard let (stanza, privateKey) = mine.first else {
                let hint = "pass the private key of one of its recipients: --backup-key FILE or LETHE_BACKUP_KEY (a public key cannot open a backup)"
                if keys.privateKeys.isEmpty {
                    throw LetheError.config("\(path) is sealed to public key(s) \(sealedTo), and no backup private key was given", hint: hint)
                }
                // As a keyring without the header's KEK: the header was altered, or the file is another team's.
                throw LetheError.integrity("\(path) does not authenticate with the given backup key(s): it names recipients \(sealedTo)",
                                           hint: "the header was altered, or it was sealed to other keys; " + hint)
            }
            let aad = BackupFormat.recipientsAAD(header: header, recipients: stanzas.count)
            guard let shared = try privateKey.sharedSecret(with: stanza.ephemeral),
                  let raw = try cipher.open(key: try BackupFormat.stanzaKey(shared: shared, ephemeral: stanza.ephemeral, recipient: stanza.publicKey),
                                            nonce: stanza.nonce, sealed: stanza.sealed, associatedData: aad) else {
                throw LetheError.integrity("\(path): the header does not authenticate with backup key \(privateKey.recipient.fingerprint)",
                                           hint: "the header or its sealed file key was altered: do not restore this file")
            }
            return SecretKey(bytes: raw)
        }
    }

    /// Authenticates the header (by unwrapping the file key) and every chunk, handing each plaintext to `body` in
    /// order. Throws an integrity error at the first byte that does not authenticate; `body` has then seen only
    /// chunks before it. Chunks are read in order and authenticated `parallelism` at a time (each thread with its
    /// own cipher context): AES-GCM is the cost of a verify, and it need not wait for one core.
    /// Returns the signature trailer, both its signatures checked against the key it names (nil: unsigned);
    /// a trailer whose signatures do not verify is an integrity error.
    @discardableResult
    func readChunks(keys: BackupOpeningKeys, parallelism: Int = ProcessInfo.processInfo.activeProcessorCount,
                    _ body: ([UInt8]) throws -> Void) throws -> BackupSignature? {
        let key = try unwrapKey(keys: keys)
        let headerHash = try SHA256.hash(header)
        let chunksDigest = try SHA256Hasher()
        let workers = max(1, min(parallelism, 16))
        let opener = try ChunkOpener(key: key, headerHash: headerHash, workers: workers)
        // 1 MiB per worker per round: enough to keep each busy, little enough to stay flat in memory.
        let roundSize = workers == 1 ? 1 : 16 * workers
        var counter: UInt64 = 0
        while true {
            var round: [SealedChunk] = []
            var stop: LetheError?
            while round.count < roundSize {
                let lengthBytes = try input.read(4)
                guard lengthBytes.count == 4 else {
                    stop = .integrity("\(path) is truncated after chunk \(counter + UInt64(round.count)): its final chunk is missing")
                    break
                }
                let length = Int(BackupFormat.readUInt32(lengthBytes, at: 0))
                guard length <= BackupFormat.chunkSize else {
                    stop = .integrity("\(path): chunk \(counter + UInt64(round.count)) has an impossible length")
                    break
                }
                let sealed = try input.read(length + AESGCM.tagSize)
                guard sealed.count == length + AESGCM.tagSize else {
                    stop = .integrity("\(path) is truncated inside chunk \(counter + UInt64(round.count))")
                    break
                }
                try chunksDigest.update(lengthBytes)
                try chunksDigest.update(sealed)
                round.append(SealedChunk(counter: counter + UInt64(round.count), length: length, sealed: sealed))
                // A short chunk can only be the final one: read no further until it is known.
                if length < BackupFormat.chunkSize { break }
            }
            if workers == 1 || round.count == 1 {
                for chunk in round { try opener.open(chunk, worker: 0) }
            } else {
                let chunks = round
                let failure = FirstError()
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    for index in stride(from: worker, to: chunks.count, by: workers) {
                        do { try opener.open(chunks[index], worker: worker) } catch { failure.record(error) }
                    }
                }
                if let error = failure.error { throw error }
            }
            for (index, chunk) in round.enumerated() {
                guard let plaintext = chunk.plaintext else {
                    throw LetheError.integrity("\(path): chunk \(chunk.counter) does not authenticate (altered, reordered or from another backup)")
                }
                try body(plaintext)
                chunk.plaintext = nil
                if chunk.final {
                    let rest = try input.read(BackupFormat.trailerSize + 1)
                    guard index == round.count - 1, stop == nil,
                          rest.isEmpty || (rest.count == BackupFormat.trailerSize && Array(rest.prefix(8)) == BackupFormat.signatureMagic) else {
                        throw LetheError.integrity("\(path) has data after its final chunk")
                    }
                    guard !rest.isEmpty else { return nil }
                    let signature = BackupSignature(trailer: rest, headerValid: Ed25519.isValid(
                        Array(rest[40..<104]), of: BackupFormat.headerSignedMessage(headerHash: headerHash), publicKey: Array(rest[8..<40])))
                    guard signature.headerValid, Ed25519.isValid(Array(rest[104...]), of: BackupFormat.fileSignedMessage(headerHash: headerHash, chunksHash: try chunksDigest.finish()),
                                                                 publicKey: signature.publicKey) else {
                        throw LetheError.integrity("\(path): its signature (signer \(signature.fingerprint)) does not match its contents",
                                                   hint: "the file was altered after it was signed, or the signature was forged: do not restore it")
                    }
                    return signature
                }
            }
            if let stop { throw stop }
            counter += UInt64(round.count)
        }
    }
}

/// Opens chunks with the file key: one cipher context per worker thread, each used by that thread only.
private final class ChunkOpener: @unchecked Sendable {
    private let key: SecretKey
    private let headerHash: [UInt8]
    private let ciphers: [AESGCM]

    init(key: SecretKey, headerHash: [UInt8], workers: Int) throws {
        self.key = key
        self.headerHash = headerHash
        ciphers = try (0..<workers).map { _ in try AESGCM() }
    }

    /// A chunk is final if it opens as final; a chunk moved to the end, or a final one moved up, fails both ways.
    /// Leaves `plaintext` nil when it opens neither way.
    func open(_ chunk: SealedChunk, worker: Int) throws {
        for final in [false, true] {
            if let plaintext = try ciphers[worker].open(key: key, nonce: BackupFormat.chunkNonce(counter: chunk.counter, final: final), sealed: chunk.sealed,
                                                        associatedData: BackupFormat.chunkAAD(headerHash: headerHash, counter: chunk.counter, final: final,
                                                                                              length: chunk.length)) {
                chunk.plaintext = plaintext
                chunk.final = final
                return
            }
        }
    }
}

/// One chunk between reading and handing on: each is opened by exactly one thread.
private final class SealedChunk: @unchecked Sendable {
    let counter: UInt64
    let length: Int
    let sealed: [UInt8]
    var plaintext: [UInt8]?
    var final = false

    init(counter: UInt64, length: Int, sealed: [UInt8]) {
        self.counter = counter
        self.length = length
        self.sealed = sealed
    }
}

private final class FirstError: Sendable {
    private let first = Locked<(any Error)?>(nil)
    var error: (any Error)? { first.value }
    func record(_ error: any Error) { first.withLock { if $0 == nil { $0 = error } } }
}

/// Reads a file in large blocks and hands out exact-size pieces: two small reads per chunk would otherwise
/// cost a system call each. The first block is small, so reading only a header (list, show) stays cheap.
final class BufferedInput {
    private let handle: FileHandle
    private let path: String
    /// The block as read: copied out once, into each piece (not first into an array of its own).
    private var buffer = Data()
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
                buffer = data
                position = 0
                blockSize = 4 << 20
            }
            let take = min(count - out.count, buffer.count - position)
            buffer.withUnsafeBytes { bytes in
                out.append(contentsOf: bytes[position..<position + take])
            }
            position += take
        }
        return out
    }
}
