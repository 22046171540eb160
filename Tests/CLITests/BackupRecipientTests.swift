import Foundation
import Postgres
import TestSupport
import Testing

/// Backups sealed to the operators' public keys: the host that makes them holds no key that opens them.
@Suite struct BackupRecipientTests {
    func schemaCount(_ db: TestDatabase) throws -> Int64 {
        try db.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname IN ('sms', 'lethe')").single("n").int("n")
    }

    @Test func sealedToTwoPublicKeysEitherPrivateKeyOpensAndThePublicKeyCannot() throws {
        let (source, directory, options) = try BackupFixture.commandLineSetUp(contacts: 500)
        let keyring = ["--keyring", directory + "/keyring"]
        let repo = ["--repo", directory + "/repo"]
        for name in ["alice", "escrow"] {
            let made = try LetheProcess.run(["keys", "backup-key", "init", "--out", "\(directory)/\(name)"])
            #expect(made.status == 0, "\(made.stderr)")
            let mode = try FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)")[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
        #expect(try LetheProcess.run(["keys", "backup-key", "init", "--out", directory + "/alice"]).status == 73, "never overwrites a key")

        // No keyring in the backup's environment: only the two public keys.
        let made = try LetheProcess.run(["backup", "--json", "--database-url", source.conninfo] + repo,
                                        environment: ["LETHE_KEYRING": "", "LETHE_BACKUP_RECIPIENT": "\(directory)/alice.pub,\(directory)/escrow.pub"])
        #expect(made.status == 0, "\(made.stderr)")
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any])
        let id = try #require(manifest["id"] as? String)
        #expect((manifest["recipients"] as? [String])?.count == 2)

        let none = try LetheProcess.run(["backup", "verify", id] + repo, environment: ["LETHE_KEYRING": ""])
        #expect(none.status == 64, "\(none.stderr)")
        let onlyKeyring = try LetheProcess.run(["backup", "verify", id] + repo + keyring)
        #expect(onlyKeyring.status == 78 && onlyKeyring.stderr.contains("no backup private key"), "\(onlyKeyring.stderr)")
        for key in ["alice", "escrow"] {
            let verified = try LetheProcess.run(["backup", "verify", id, "--backup-key", "\(directory)/\(key)"] + repo)
            #expect(verified.status == 0, "\(key): \(verified.stderr)")
        }
        let checksum = try LetheProcess.run(["backup", "verify", id, "--checksum-only"] + repo, environment: ["LETHE_KEYRING": ""])
        #expect(checksum.status == 0 && checksum.stdout.contains("matches"), "\(checksum.stderr)")

        // Restore with the public key only: a clear refusal, nothing restored. With a private key: restored.
        let target = try TestDatabase(migrated: false)
        let publicOnly = try LetheProcess.run(["restore", id, "--target-database", target.conninfo, "--backup-key", directory + "/alice.pub"] + options)
        #expect(publicOnly.status == 78 && publicOnly.stderr.contains("public key"), "\(publicOnly.stderr)")
        #expect(try schemaCount(target) == 0)
        // Unsigned, its origin is unproven (anyone with a public key could have made it): refused without --trust-unsigned.
        let unsigned = try LetheProcess.run(["restore", id, "--target-database", target.conninfo, "--backup-key", directory + "/escrow"] + options)
        #expect(unsigned.status == 79 && unsigned.stderr.contains("origin cannot be proven"), "\(unsigned.stderr)")
        #expect(try schemaCount(target) == 0)
        let restored = try LetheProcess.run(["restore", id, "--trust-unsigned", "--target-database", target.conninfo, "--backup-key", directory + "/escrow"] + options)
        #expect(restored.status == 1 && restored.stdout.contains("origin NOT PROVEN"), "\(restored.stderr)")
        #expect(try BackupFixture.fingerprint(target.connection) == BackupFixture.fingerprint(source.connection))

        // One flipped byte in the first recipient's sealed file key: detected by either key, and by the checksum.
        let path = "\(directory)/repo/\(id).lethe-backup"
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let sealedKey = 20 + 32 + 32 + 12
        bytes[sealedKey + 5] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for key in ["alice", "escrow"] {
            let flipped = try LetheProcess.run(["backup", "verify", id, "--backup-key", "\(directory)/\(key)"] + repo)
            #expect(flipped.status == 79, "\(key): \(flipped.stderr)")
        }
        #expect(try LetheProcess.run(["backup", "verify", id, "--checksum-only"] + repo).status == 79)
        let other = try TestDatabase(migrated: false)
        #expect(try LetheProcess.run(["restore", id, "--target-database", other.conninfo, "--backup-key", directory + "/alice"] + options).status == 79)
        #expect(try schemaCount(other) == 0)
    }
}
