import Foundation
import Keys
import LetheCore
import Policy
import Postgres
import Schema

/// Issue 6's backup section: `lethe backup` against `pg_dump -Fc` and `pg_dump -Fc | openssl enc -aes-256-cbc`
/// of the same tables; verify throughput; `lethe restore` against `pg_restore` of the plain dump.
struct BackupBench {
    let scale: Double
    let lethe: String

    func run() throws {
        // 4.2M of each make a backup file of ~520 MB at SCALE=1: issue 17 measures verify on at least 500 MB.
        let contacts = max(20_000, Int(4_200_000 * scale))
        let reports = contacts
        say("== backup: lethe backup vs pg_dump -Fc (\(contacts) sealed contacts, \(reports) delivery reports) ==")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-bench-backup-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        for name in ["lethe_bench_backup", "lethe_bench_restore_a", "lethe_bench_restore_b"] {
            try admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
        defer {
            for name in ["lethe_bench_backup", "lethe_bench_restore_a", "lethe_bench_restore_b"] {
                _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            }
        }
        try admin.execute("CREATE DATABASE lethe_bench_backup")
        let db = try PostgresConnection(conninfo: "dbname=lethe_bench_backup")
        _ = try Migrator(set: try MigrationSet.embedded()).migrate(on: db)
        let policy = try PolicyLoader.load(path: "Policies/default.yaml")
        let now = try DatabaseClock.now(db)
        _ = try PartitionCatalog().ensure(db, policy: policy, now: now, from: Month.adding(months: -7, to: now))
        let (_, load) = try measure {
            // Sealed values are random bytes: as incompressible as real AES-GCM envelopes.
            try db.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
            try db.execute("INSERT INTO sms.customers (id, name) SELECT g, 'customer ' || g FROM generate_series(1, 100) g")
            try db.execute("""
                INSERT INTO sms.contacts (customer_id, phone, phone_bidx, name, created_at)
                SELECT 1 + g % 100, '\\x4c544801'::bytea || gen_random_bytes(48), gen_random_bytes(4),
                       '\\x4c544801'::bytea || gen_random_bytes(64), now() - (g % 170) * interval '1 day'
                FROM generate_series(1, $1) g
                """, [.int(Int64(contacts))])
            try db.execute("""
                INSERT INTO sms.delivery_reports (message_id, customer_id, status, reported_at, operator_code)
                SELECT g, 1 + g % 100, (ARRAY['delivered', 'delivered', 'failed', 'expired'])[1 + g % 4], now() - (g % 170) * interval '1 day', '208' || (g % 20)
                FROM generate_series(1, $1) g
                """, [.int(Int64(reports))])
            try db.execute("VACUUM (FREEZE, ANALYZE)")
        }
        let tableBytes = try db.query("""
            SELECT sum(pg_table_size(c.oid))::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname IN ('sms', 'lethe')
            """).single("size").int("bytes")
        say(String(format: "  (generated %@ of table data in %.0f s)", megabytes(tableBytes), load))
        let keyring = directory + "/keyring"
        _ = try Keyring.create(at: keyring)
        let repo = directory + "/repo"

        let (backup, backupSeconds) = try measure {
            try runMeasured(lethe, ["backup", "--json", "--database-url", "dbname=lethe_bench_backup", "--keyring", keyring, "--repo", repo])
        }
        guard backup.status == 0 else { throw LetheError.software("lethe backup exited \(backup.status)") }
        let id = try FileManager.default.contentsOfDirectory(atPath: repo).first { $0.hasSuffix(".lethe-backup") }!.replacingOccurrences(of: ".lethe-backup", with: "")
        let backupSize = try fileSize(repo + "/\(id).lethe-backup")

        let plain = directory + "/plain.dump"
        let dumpArguments = ["--format=custom", "--no-owner", "--schema=sms", "--schema=lethe", "--exclude-table-data=sms.messages*", "--dbname=lethe_bench_backup"]
        let (_, dumpSeconds) = try measure { try runMeasured("/usr/lib/postgresql/15/bin/pg_dump", dumpArguments + ["--file=\(plain)"]) }
        let plainSize = try fileSize(plain)
        let encrypted = directory + "/plain.dump.enc"
        let pipeline = "/usr/lib/postgresql/15/bin/pg_dump \(dumpArguments.joined(separator: " ")) | openssl enc -aes-256-cbc -pbkdf2 -pass pass:bench -out \(encrypted)"
        let (_, pipelineSeconds) = try measure { try runMeasured("/bin/sh", ["-c", pipeline]) }
        let encryptedSize = try fileSize(encrypted)
        say(String(format: "  lethe backup: %@, %@ | pg_dump -Fc: %@, %@ | pg_dump -Fc | openssl enc: %@, %@",
                   seconds(backupSeconds), megabytes(backupSize), seconds(dumpSeconds), megabytes(plainSize), seconds(pipelineSeconds), megabytes(encryptedSize)))
        say(String(format: "  lethe/pg_dump -Fc: time %.2fx (target <= 0.5), size %.2fx (target <= 1.10); lethe/encrypted pipeline: time %.2fx, size %.2fx; peak RSS %.1f MB",
                   backupSeconds / dumpSeconds, Double(backupSize) / Double(plainSize), backupSeconds / pipelineSeconds,
                   Double(backupSize) / Double(encryptedSize), Double(backup.peakKiB) / 1024))

        // Issue 14: the same backup sealed to two X25519 public keys instead of the keyring's KEK, alternated with
        // KEK-sealed runs so both see the same machine; the fastest of three of each is compared (noise only slows).
        let backupKey = directory + "/backup-key"
        _ = try BackupPrivateKey.create(at: backupKey)
        _ = try BackupPrivateKey.create(at: directory + "/escrow-key")
        var kekTimes: [Double] = [], recipientTimes: [Double] = []
        var recipientId = ""
        for _ in 0..<3 {
            let (kekRun, kekSeconds) = try measure {
                try runMeasured(lethe, ["backup", "--database-url", "dbname=lethe_bench_backup", "--keyring", keyring, "--repo", directory + "/repo-kek"])
            }
            guard kekRun.status == 0 else { throw LetheError.software("lethe backup exited \(kekRun.status)") }
            let (sealed, sealedSeconds) = try measure {
                try runMeasured(lethe, ["backup", "--json", "--database-url", "dbname=lethe_bench_backup", "--recipient", backupKey + ".pub",
                                        "--recipient", directory + "/escrow-key.pub", "--repo", directory + "/repo-pub"])
            }
            guard sealed.status == 0 else { throw LetheError.software("lethe backup --recipient exited \(sealed.status)") }
            kekTimes.append(kekSeconds)
            recipientTimes.append(sealedSeconds)
        }
        recipientId = try FileManager.default.contentsOfDirectory(atPath: directory + "/repo-pub").first { $0.hasSuffix(".lethe-backup") }!
            .replacingOccurrences(of: ".lethe-backup", with: "")
        let ratios = zip(recipientTimes, kekTimes).map { $0 / $1 }
        say(String(format: "  backup sealed to 2 public keys vs the keyring's KEK: best %@ vs %@ = %.3fx (target <= 1.02); per pair %.3fx..%.3fx",
                   seconds(recipientTimes.min()!), seconds(kekTimes.min()!), recipientTimes.min()! / kekTimes.min()!, ratios.min()!, ratios.max()!))
        let opened = try runMeasured(lethe, ["backup", "verify", recipientId, "--backup-key", backupKey, "--repo", directory + "/repo-pub"])
        guard opened.status == 0 else { throw LetheError.software("lethe backup verify --backup-key exited \(opened.status)") }

        // The backups above leave gigabytes of dirty pages: written back first, so verify measures itself. From the
        // disk (page cache dropped, where this process may: root) against `cat` of the same file, then from memory.
        _ = try runMeasured("/bin/sync", [])
        let dropCaches = { FileManager.default.isWritableFile(atPath: "/proc/sys/vm/drop_caches")
            && (try? runMeasured("/bin/sh", ["-c", "sync; echo 3 > /proc/sys/vm/drop_caches"]))?.status == 0 }
        var verifyTimes: [Double] = []
        var coldVerify: [Double] = [], coldCat: [Double] = []
        for _ in 0..<2 {
            if dropCaches() {
                let (_, catSeconds) = try measure { try runMeasured("/bin/sh", ["-c", "cat '\(repo)/\(id).lethe-backup' > /dev/null"]) }
                coldCat.append(catSeconds)
                _ = dropCaches()
                let (cold, coldSeconds) = try measure { try runMeasured(lethe, ["backup", "verify", id, "--keyring", keyring, "--repo", repo]) }
                guard cold.status == 0 else { throw LetheError.software("lethe backup verify exited \(cold.status)") }
                coldVerify.append(coldSeconds)
            }
            let (verify, verifySeconds) = try measure { try runMeasured(lethe, ["backup", "verify", id, "--keyring", keyring, "--repo", repo]) }
            guard verify.status == 0 else { throw LetheError.software("lethe backup verify exited \(verify.status)") }
            verifyTimes.append(verifySeconds)
        }
        say(String(format: "  verify, file in memory: %@..%@ for %@ = %.0f..%.0f MB/s of backup file (target >= 1 GB/s)", seconds(verifyTimes.min()!), seconds(verifyTimes.max()!),
                   megabytes(backupSize), Double(backupSize) / verifyTimes.max()! / 1e6, Double(backupSize) / verifyTimes.min()! / 1e6))
        if !coldVerify.isEmpty {
            say(String(format: "  verify, file on disk (page cache dropped): %.0f..%.0f MB/s; cat of the same file: %.0f..%.0f MB/s (verify at disk speed: ratio near 1)",
                       Double(backupSize) / coldVerify.max()! / 1e6, Double(backupSize) / coldVerify.min()! / 1e6,
                       Double(backupSize) / coldCat.max()! / 1e6, Double(backupSize) / coldCat.min()! / 1e6))
        }

        try admin.execute("CREATE DATABASE lethe_bench_restore_a")
        try admin.execute("CREATE DATABASE lethe_bench_restore_b")
        let (restore, restoreSeconds) = try measure {
            try runMeasured(lethe, ["restore", id, "--target-database", "dbname=lethe_bench_restore_a", "--database-url", "dbname=lethe_bench_backup",
                                    "--keyring", keyring, "--repo", repo])
        }
        guard restore.status == 0 else { throw LetheError.software("lethe restore exited \(restore.status)") }
        let (_, pgRestoreSeconds) = try measure {
            try runMeasured("/usr/lib/postgresql/15/bin/pg_restore", ["--no-owner", "--exit-on-error", "--single-transaction", "--dbname=lethe_bench_restore_b", plain])
        }
        say(String(format: "  lethe restore (verify + pg_restore + retention): %@ | pg_restore of the plain dump: %@ | ratio %.2fx (target <= 1.10)",
                   seconds(restoreSeconds), seconds(pgRestoreSeconds), restoreSeconds / pgRestoreSeconds))
    }

    private func fileSize(_ path: String) throws -> Int64 {
        Int64(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0)
    }
}
