import Foundation
import Postgres
import TestSupport
import Testing

/// Backups that prove their origin. Sealing to a public key proves nothing about who sealed: the public key lives
/// on the worker host by design. The attack (issue 28 item 3): with that key and a worker login, a forged backup
/// was listed as authentic, verified as intact and restored.
@Suite struct BackupSignatureTests {
    struct World {
        let source: TestDatabase
        let directory: String
        let options: [String]
        /// Signing key name -> fingerprint, as `keys signing-key init --json` printed it.
        var fingerprints: [String: String] = [:]
        var repo: [String] { ["--repo", directory + "/repo"] }
        var backupHost: [String: String] { ["LETHE_KEYRING": "", "LETHE_BACKUP_RECIPIENT": directory + "/operators.pub"] }
        var signer: [String] { ["--signer", directory + "/signing.pub"] }
        var privateKey: [String] { ["--backup-key", directory + "/operators"] }

        func backup(_ environment: [String: String]) throws -> String {
            let made = try LetheProcess.run(["backup", "--json", "--database-url", source.conninfo] + repo, environment: backupHost.merging(environment) { $1 })
            #expect(made.status == 0, "\(made.stderr)")
            let manifest = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any])
            return try #require(manifest["id"] as? String)
        }

        func path(_ id: String) -> String { "\(directory)/repo/\(id).lethe-backup" }
    }

    func world() throws -> World {
        let (source, directory, options) = try BackupFixture.commandLineSetUp(contacts: 200)
        var world = World(source: source, directory: directory, options: options)
        #expect(try LetheProcess.run(["keys", "backup-key", "init", "--out", directory + "/operators"]).status == 0)
        for name in ["signing", "stranger"] {
            let made = try LetheProcess.run(["keys", "signing-key", "init", "--json", "--out", "\(directory)/\(name)"])
            #expect(made.status == 0, "\(made.stderr)")
            let printed = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: String])
            world.fingerprints[name] = try #require(printed["fingerprint"])
        }
        return world
    }

    func schemaCount(_ db: TestDatabase) throws -> Int64 {
        try db.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname IN ('sms', 'lethe')").single("n").int("n")
    }

    @Test func aSigningPairIsPrivateAndNeverOverwritten() throws {
        let world = try world()
        let mode = try FileManager.default.attributesOfItem(atPath: world.directory + "/signing")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try LetheProcess.run(["keys", "signing-key", "init", "--out", world.directory + "/signing"]).status == 73)
        // The public half given where the private one is needed: refused, nothing written.
        let swapped = try LetheProcess.run(["backup", "--sign-key", world.directory + "/signing.pub", "--database-url", world.source.conninfo] + world.repo,
                                           environment: world.backupHost)
        #expect(swapped.status == 78 && swapped.stderr.contains("HINT:"), "\(swapped.stderr)")
    }

    @Test func aSignedBackupIsListedVerifiedAndRestoredAsSigned() throws {
        let world = try world()
        let id = try world.backup(["LETHE_BACKUP_SIGN_KEY": world.directory + "/signing"])
        let fingerprint = try #require(world.fingerprints["signing"])

        let listed = try LetheProcess.run(["backup", "list"] + world.repo + world.signer, environment: ["LETHE_KEYRING": ""])
        #expect(listed.status == 0 && listed.stdout.contains("signed by \(fingerprint)"), "\(listed.stdout)\(listed.stderr)")
        let unlisted = try LetheProcess.run(["backup", "list"] + world.repo + world.privateKey, environment: ["LETHE_KEYRING": ""])
        #expect(unlisted.stdout.contains("sealed") && !unlisted.stdout.contains("signed by"), "no trusted signer given: \(unlisted.stdout)")

        let verified = try LetheProcess.run(["backup", "verify", id] + world.repo + world.privateKey + world.signer, environment: ["LETHE_KEYRING": ""])
        #expect(verified.status == 0 && verified.stdout.contains("origin: signed by \(fingerprint)"), "\(verified.stdout)\(verified.stderr)")
        let target = try TestDatabase(migrated: false)
        let restored = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + world.options + world.privateKey + world.signer)
        #expect(restored.status == 0 && restored.stdout.contains("origin: signed by \(fingerprint)"), "\(restored.stderr)")
        #expect(try BackupFixture.fingerprint(target.connection) == BackupFixture.fingerprint(world.source.connection))
    }

    /// The attack replayed: a backup made with only the public key (no signing key), or signed by a key no one
    /// trusts, is listed as what it is, fails verification with trusted signers, and is refused by restore (79).
    @Test func aBackupMadeWithOnlyThePublicKeyIsRefused() throws {
        let world = try world()
        let forged = try world.backup([:])
        let stranger = try world.backup(["LETHE_BACKUP_SIGN_KEY": world.directory + "/stranger"])
        for id in [forged, stranger] {
            let listed = try LetheProcess.run(["backup", "list"] + world.repo + world.signer + world.privateKey, environment: ["LETHE_KEYRING": ""])
            let line = try #require(listed.stdout.split(separator: "\n").first { $0.hasPrefix(id) })
            #expect(line.hasSuffix("sealed") && !line.contains("authentic"), "\(line)")
            let verified = try LetheProcess.run(["backup", "verify", id] + world.repo + world.privateKey + world.signer, environment: ["LETHE_KEYRING": ""])
            #expect(verified.status == 79 && verified.stdout.contains("origin is NOT PROVEN"), "\(verified.stdout)")
            let target = try TestDatabase(migrated: false)
            let restore = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + world.options + world.privateKey + world.signer)
            #expect(restore.status == 79 && restore.stderr.contains("origin cannot be proven") && restore.stderr.contains("HINT:"), "\(restore.stderr)")
            #expect(try schemaCount(target) == 0, "nothing restored")
        }
        // Knowingly: --trust-unsigned restores, exits 1, and says so in the report and both audit records.
        let target = try TestDatabase(migrated: false)
        let trusted = try LetheProcess.run(["restore", forged, "--trust-unsigned", "--target-database", target.conninfo] + world.options + world.privateKey + world.signer)
        #expect(trusted.status == 1 && trusted.stdout.contains("origin NOT PROVEN"), "\(trusted.stderr)")
        for db in [target.connection, world.source.connection] {
            let audit = try db.query("SELECT details->>'origin' AS origin, details->>'origin_proven' AS proven FROM lethe.audit_log WHERE action = 'restore'").single("restore")
            #expect(try audit.string("origin") == "sealed" && audit.string("proven") == "false")
        }
    }

    /// A signature is part of the file: flipped, it is an integrity failure; cut off, the backup is unsigned.
    @Test func anAlteredOrRemovedSignatureIsDetected() throws {
        let world = try world()
        let id = try world.backup(["LETHE_BACKUP_SIGN_KEY": world.directory + "/signing"])
        let original = try Data(contentsOf: URL(fileURLWithPath: world.path(id)))
        for offset in [60, original.count - 1] {
            var flipped = original
            flipped[original.count - 168 + min(offset, 167)] ^= 0x01
            try flipped.write(to: URL(fileURLWithPath: world.path(id)))
            let verified = try LetheProcess.run(["backup", "verify", id] + world.repo + world.privateKey + world.signer, environment: ["LETHE_KEYRING": ""])
            #expect(verified.status == 79 && verified.stdout.contains("NOT"), "byte \(offset): \(verified.stdout)")
        }
        try original.prefix(original.count - 168).write(to: URL(fileURLWithPath: world.path(id)))
        let target = try TestDatabase(migrated: false)
        let restore = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + world.options + world.privateKey + world.signer)
        #expect(restore.status == 79 && restore.stderr.contains("carries no signature"), "\(restore.stderr)")
        #expect(try schemaCount(target) == 0)
    }

    /// The policy's backup.signers stands in for --signer.
    @Test func thePolicyNamesTheTrustedSigners() throws {
        let world = try world()
        let id = try world.backup(["LETHE_BACKUP_SIGN_KEY": world.directory + "/signing"])
        let policy = world.directory + "/policy.yaml"
        let text = try String(contentsOfFile: try PolicyFixture.monthlyPolicyPath(), encoding: .utf8)
            .replacingOccurrences(of: "backup:\n  keep: P35D\n", with: "backup:\n  keep: P35D\n  signers: [\(world.directory)/signing.pub]\n")
        #expect(text.contains("signers:"))
        try text.write(toFile: policy, atomically: true, encoding: .utf8)
        let target = try TestDatabase(migrated: false)
        let restore = try LetheProcess.run(["restore", id, "--policy", policy, "--target-database", target.conninfo] + world.options + world.privateKey)
        #expect(restore.status == 0 && restore.stdout.contains("origin: signed by"), "\(restore.stderr)")
    }

    /// Only data comes from the archive (issue 28 item 3): a function, a trigger, a row-level policy, a rule and a
    /// grant that the backed-up database carried (as a forged file could) are not in the restored database; its
    /// schema is Lethe's migrations', its rows the backup's.
    @Test func aRestoreTakesOnlyDataFromTheArchive() throws {
        let world = try world()
        let source = world.source.connection
        try source.execute("CREATE FUNCTION sms.planted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$")
        try source.execute("CREATE TRIGGER planted BEFORE INSERT ON sms.contacts FOR EACH ROW EXECUTE FUNCTION sms.planted()")
        try source.execute("CREATE POLICY planted ON sms.templates USING (true)")
        try source.execute("CREATE RULE planted AS ON INSERT TO sms.customers DO ALSO NOTIFY planted")
        try source.execute("GRANT ALL ON sms.contacts TO PUBLIC")
        try source.execute("CREATE FUNCTION lethe.audit_append_shadow() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        let id = try world.backup(["LETHE_BACKUP_SIGN_KEY": world.directory + "/signing"])
        let target = try TestDatabase(migrated: false)
        let restore = try LetheProcess.run(["restore", id, "--json", "--target-database", target.conninfo] + world.options + world.privateKey + world.signer)
        #expect(restore.status == 0, "\(restore.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(restore.stdout.utf8)) as? [String: Any])
        #expect((report["archiveStatementsIgnored"] as? Int ?? 0) > 0)
        let restored = target.connection
        let count = { (sql: String) in try restored.query(sql).single("n").int("n") }
        #expect(try count("SELECT count(*) AS n FROM pg_proc WHERE proname IN ('planted', 'audit_append_shadow')") == 0, "no function of the archive")
        #expect(try count("SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'planted'") == 0)
        #expect(try count("SELECT count(*) AS n FROM pg_policy WHERE polname = 'planted'") == 0)
        #expect(try count("SELECT count(*) AS n FROM pg_rules WHERE rulename = 'planted'") == 0)
        #expect(try !restored.query("SELECT has_table_privilege('public', 'sms.contacts', 'INSERT') AS p").single("p").bool("p"))
        #expect(try BackupFixture.fingerprint(restored) == BackupFixture.fingerprint(source))
        // The guarded functions are Lethe's own: the migrations' checksums hold.
        #expect(try LetheProcess.run(["migrate", "--status", "--database-url", target.conninfo]).status == 0)
    }
}
