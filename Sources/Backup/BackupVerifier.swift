import Foundation
import Keys
import LetheCore
import Zstd

/// `lethe backup verify`: authenticates every byte of a backup without any database, then has `pg_restore --list`
/// read the decrypted dump's table of contents.
public struct BackupVerifier {
    let repository: BackupRepository
    let keys: BackupOpeningKeys

    public init(repository: BackupRepository, keys: BackupOpeningKeys) {
        self.repository = repository
        self.keys = keys
    }

    public struct Result: Sendable, Encodable {
        public let id: String
        /// Dump bytes handed to pg_restore --list (it stops after the table of contents).
        public let bytes: Int
        public let tocEntries: Int
        /// Who made it, as far as the keys and trusted signers given prove.
        public let origin: BackupOrigin
    }

    public func verify(_ id: String) throws -> Result {
        var bytes = 0
        var signature: BackupSignature?
        // The server version in the header only chooses the tool; the header is authenticated with every chunk.
        let tools = try PostgresTools.find(serverVersion: try repository.reader(id).essentials.serverVersion)
        let list = try ChildProcess(tools.pgRestore, ["--list"], environment: [:], collectingOutput: true)
        // pg_restore --list stops reading once it has the table of contents; from then on the chunks are only
        // authenticated (what they hold was written by Lethe and is proven unaltered), not decompressed.
        var listening = true
        do {
            signature = try decryptedStream(id, wanted: { listening }) { piece in
                bytes += piece.count
                if !list.writeInput(piece) { listening = false }
            }
        } catch {
            list.kill()
            list.finish()
            throw error
        }
        let (status, stderr, toc) = list.finish()
        guard status == 0 else {
            throw LetheError.integrity("backup \(id) authenticates but pg_restore cannot read its dump: \(ChildProcess.summary(stderr))")
        }
        let entries = toc.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.isEmpty }.count
        return Result(id: id, bytes: bytes, tocEntries: entries,
                      origin: BackupOrigin.of(signature, keyringSealed: try repository.reader(id).kekId, trusted: keys.signers))
    }

    /// The decrypted, decompressed pg_dump stream, each piece authenticated before it is handed on. Once
    /// `wanted` says no more is needed, the remaining chunks are still authenticated but not decompressed.
    /// `parallelism`: threads that authenticate chunks. A verify uses every core; a restore streams into
    /// pg_restore and the server, which need those cores more, so it authenticates on one.
    @discardableResult
    public func decryptedStream(_ id: String, parallelism: Int = ProcessInfo.processInfo.activeProcessorCount, wanted: () -> Bool = { true },
                                _ body: ([UInt8]) throws -> Void) throws -> BackupSignature? {
        let reader = try repository.reader(id)
        let decompressor = try ZstdDecompressor()
        var decompressing = true
        let signature = try reader.readChunks(keys: keys, parallelism: parallelism) { chunk in
            decompressing = decompressing && wanted()
            guard decompressing else { return }
            try decompressor.decompress(chunk) { piece in
                guard decompressing else { return }
                try body(piece)
                decompressing = wanted()
            }
        }
        guard !decompressing || decompressor.frameComplete else { throw LetheError.integrity("backup \(id): the compressed stream ends early") }
        return signature
    }
}
