import Foundation
@testable import Backup
import Keys
import LetheCore
import TestSupport
import Testing
import Zstd

/// A forged backup's "zstd bomb": 768 MiB of zeros compress to a few tens of KB, inside one sealed chunk. The
/// decompressed stream must flow through in bounded pieces: collected per chunk, it took 714 MB of memory for a
/// 16 KB file (issue 28 item 8).
@Suite struct DecompressionBombTests {
    @Test func aChunkThatExpandsAThousandfoldIsStreamedInBoundedMemory() throws {
        let directory = try IntakeFixture.directory()
        let keyring = try Keyring.create(at: directory + "/keyring")
        let repository = try BackupRepository(directory: directory + "/repo")
        let id = "20261201T000000Z-b0b0"
        let essentials = BackupEssentials(id: id, createdAt: Date(), database: "sms", tables: [], serverVersion: "15", pgDumpVersion: "15",
                                          policyHash: "0", compression: "zstd")
        let writer = try BackupFileWriter(path: repository.backupPath(id), essentials: essentials, sealing: .keyring(keyring))
        let compressor = try ZstdCompressor(level: 1)
        let zeros = [UInt8](repeating: 0, count: 8 << 20)
        for _ in 0..<96 { try writer.write(try compressor.compress(zeros)) }
        try writer.write(try compressor.compress([], end: true))
        let (_, size) = try writer.finish()
        #expect(size < 200_000, "the bomb is small on disk: \(size) bytes")

        // The stream is whole and authentic, so verify decompresses it (pg_restore then refuses zeros as a dump).
        let timed = try LetheProcess.run(["-f", "peak-rss-kb %M", LetheProcess.binary, "backup", "verify", id, "--repo", directory + "/repo",
                                          "--keyring", directory + "/keyring"], executable: "/usr/bin/time")
        #expect(timed.status == 79 && timed.stdout.contains("pg_restore cannot read its dump"), "\(timed.stdout)")
        let peak = try #require(timed.stderr.split(separator: "\n").last { $0.hasPrefix("peak-rss-kb ") }.flatMap { Int($0.dropFirst(12)) })
        #expect(peak < 200_000, "peak resident memory \(peak) KB for 768 MiB of decompressed stream")
    }
}
