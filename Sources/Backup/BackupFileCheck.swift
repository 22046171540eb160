import Foundation
import Keys
import LetheCore

/// A backup file read on its own, without a database or pg_restore: the header, then every chunk
/// authenticated in order. What the fuzzers and the framing tests drive; `backup verify` adds pg_restore's check.
public enum BackupFileCheck {
    /// Authenticates the whole file and returns the stream it carries. Integrity error (exit 79) at the
    /// first byte that does not authenticate.
    public static func authenticate(path: String, keys: BackupOpeningKeys) throws -> [UInt8] {
        var stream: [UInt8] = []
        try BackupFileReader(path: path).readChunks(keys: keys) { stream += $0 }
        return stream
    }

    /// Writes `payload` as a backup file at `path` (a sample for fuzzing and framing tests: no pg_dump inside).
    public static func writeSample(path: String, payload: [UInt8], sealing: BackupSealing) throws {
        let essentials = BackupEssentials(id: "20260101T000000Z-0000", createdAt: Date(timeIntervalSince1970: 1_767_225_600),
                                          database: "sample", tables: [.init(name: "sms.contacts", rows: 1, data: true)],
                                          serverVersion: "15", pgDumpVersion: "15", policyHash: "sample", compression: "zstd")
        let writer = try BackupFileWriter(path: path, essentials: essentials, sealing: sealing)
        do {
            try writer.write(payload)
            _ = try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
    }
}
