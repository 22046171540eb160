import Foundation
import Keys
import Postgres
import TestSupport
import Testing

@Suite struct BackupCommandTests {
    func setUp(contacts: Int = 2000) throws -> (TestDatabase, String, [String]) {
        try BackupFixture.commandLineSetUp(contacts: contacts)
    }

    /// The same options without --database-url: verify and list need no database.
    func offline(_ options: [String]) -> [String] { options.removing(option: "--database-url") }

    func onlyBackup(_ directory: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/repo").filter { $0.hasSuffix(".lethe-backup") }
        #expect(names.count == 1)
        return String(names[0].dropLast(".lethe-backup".count))
    }

    @Test func tamperedBackupFailsVerifyAndRestoreWithTheIntegrityCode() throws {
        let (source, directory, common) = try setUp()
        defer { withExtendedLifetime(source) {} }
        let created = try LetheProcess.run(["backup", "--json"] + common)
        #expect(created.status == 0 && created.stdout.contains("\"sha256\""), "\(created.stderr)")
        let id = try onlyBackup(directory)
        #expect(try LetheProcess.run(["backup", "verify", id] + offline(common)).status == 0)
        let path = directory + "/repo/\(id).lethe-backup"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        let verify = try LetheProcess.run(["backup", "verify", "--all"] + offline(common))
        #expect(verify.status == 79 && verify.stdout.contains("NOT INTACT"))
        let target = try TestDatabase(migrated: false)
        let restore = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + common)
        #expect(restore.status == 79)
        #expect(restore.stderr.contains("does not authenticate"))
        #expect(try target.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname IN ('sms', 'lethe')").single("n").int("n") == 0)
    }

    /// Issue 30, defect 4: a policy whose tables are the application's own, in `public`. Restoring into a new
    /// database failed (and `--dry-run` said it would work): Lethe's migrations do not make those tables and the
    /// archive's structure is never run. Their structure now comes from the live database's catalog (tables,
    /// defaults, sequences, keys; no trigger), the data from the backup; the undeclared table stays out.
    @Test func aRestoreIntoANewDatabaseTakesTheApplicationsTablesStructureFromTheLiveDatabase() throws {
        let source = try TestDatabase()
        let directory = try IntakeFixture.directory()
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/keyring"]).status == 0)
        let policy = try PolicyFixture.adoptedPolicyFile(tables: """
              - table: public.sent_log
                timestamp: created_at
                customer: account_id
                retention: P6M
                operational: [status]
                backup: true
                category: Sent SMS log
            """, in: directory)
        try source.connection.execute("""
            CREATE TABLE public.sent_log (id bigserial PRIMARY KEY, account_id bigint, created_at timestamptz NOT NULL DEFAULT now(),
                                          status text CHECK (status <> ''))
            """)
        try source.connection.execute("CREATE INDEX sent_log_account_idx ON public.sent_log (account_id, created_at)")
        try source.connection.execute("CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$")
        try source.connection.execute("CREATE TRIGGER sent_log_touch BEFORE INSERT ON public.sent_log FOR EACH ROW EXECUTE FUNCTION public.touch()")
        try source.connection.execute("CREATE TABLE public.billing (id bigint, card text)")
        try source.connection.execute("INSERT INTO public.sent_log (account_id, created_at, status) SELECT g % 3, now() - g * interval '1 hour', 'sent' FROM generate_series(1, 40) g")
        let common = ["--policy", policy, "--database-url", source.conninfo, "--keyring", directory + "/keyring", "--repo", directory + "/repo"]
        let backup = try LetheProcess.run(["backup"] + common)
        #expect(backup.status == 0 && backup.stdout.contains("not backed up (not in the policy): public.billing"), "\(backup.stdout) \(backup.stderr)")
        let id = try onlyBackup(directory)
        let target = try TestDatabase(migrated: false)
        let dry = try LetheProcess.run(["restore", id, "--dry-run", "--target-database", target.conninfo] + common)
        #expect(dry.status == 0 && dry.stdout.contains("structure to be copied from the live database (tables Lethe's migrations do not make): public.sent_log"),
                "\(dry.stdout) \(dry.stderr)")
        #expect(try target.connection.query("SELECT to_regclass('public.sent_log') IS NULL AS absent").single("a").bool("absent"), "--dry-run changes nothing")
        let restore = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + common)
        #expect(restore.status == 0, "\(restore.stderr)")
        let restored = try PostgresConnection(conninfo: target.conninfo)
        let digest = "SELECT count(*) AS n, md5(string_agg(id || ':' || account_id || ':' || created_at || ':' || status, ',' ORDER BY id)) AS h FROM public.sent_log"
        #expect(try restored.query(digest).single("r").string("h") == source.connection.query(digest).single("r").string("h"))
        #expect(try restored.query("""
            SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.sent_log'::regclass) AS triggers,
                   (SELECT count(*) FROM pg_indexes WHERE tablename = 'sent_log') AS indexes,
                   to_regclass('public.billing') IS NULL AS billing_absent
            """).single("r").int("indexes") == 2)
        #expect(try restored.query("SELECT count(*) AS n FROM pg_trigger WHERE tgrelid = 'public.sent_log'::regclass").single("n").int("n") == 0, "no trigger from the live database")
        #expect(try restored.query("SELECT to_regclass('public.billing') IS NULL AS a").single("a").bool("a"), "the undeclared table is not restored")
        try restored.execute("INSERT INTO public.sent_log (account_id, status) VALUES (1, 'queued')")
        // --clean sets aside and then drops the schemas it restores: refused while the target's `public` holds a
        // table of its own, which the restore would destroy.
        try restored.execute("CREATE TABLE public.invoices (id bigint)")
        let clean = try LetheProcess.run(["restore", id, "--clean", "--target-database", target.conninfo] + common)
        #expect(clean.status == 73 && clean.stderr.contains("public.invoices") && clean.stderr.contains("HINT:"), "\(clean.status) \(clean.stderr)")
        #expect(try restored.query("SELECT count(*) AS n FROM public.sent_log").single("n").int("n") == 41, "nothing changed")
        try restored.execute("DROP TABLE public.invoices")
        let replaced = try LetheProcess.run(["restore", id, "--clean", "--target-database", target.conninfo] + common)
        #expect(replaced.status == 0, "\(replaced.stderr.suffix(1500))")
        // Without the live database there is nothing to take the structure from: refused, naming the table.
        let other = try TestDatabase(migrated: false)
        let unreachable = ["--policy", policy, "--database-url", "host=/nonexistent dbname=x", "--keyring", directory + "/keyring", "--repo", directory + "/repo"]
        let refused = try LetheProcess.run(["restore", id, "--without-erasure-replay", "--target-database", other.conninfo] + unreachable)
        #expect(refused.status == 69 && refused.stderr.contains("public.sent_log") && refused.stderr.contains("HINT:"), "\(refused.status) \(refused.stderr)")
    }

    /// The attack of issue 28 item 4: `restore --clean` with the live database (the default connection) as target.
    /// Refused with exit 73 before anything is touched, whichever spelling of the connection names it.
    @Test func restoringIntoTheLiveDatabaseIsRefused() throws {
        let (source, directory, common) = try setUp(contacts: 200)
        defer { withExtendedLifetime(source) {} }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try onlyBackup(directory)
        try source.connection.execute("DELETE FROM sms.contacts WHERE id <= 10")
        let restore = try LetheProcess.run(["restore", id, "--clean", "--target-database", source.conninfo + " application_name=other"] + common)
        #expect(restore.status == 73, "\(restore.stderr)")
        #expect(restore.stderr.contains("is the live database itself") && restore.stderr.contains("HINT:"))
        #expect(try source.connection.query("SELECT count(*) AS n FROM sms.contacts WHERE id <= 10").single("n").int("n") == 0, "nothing came back")
    }

    /// While a backup is written, its only file is `<id>.lethe-backup.partial`, mode 0600, holding sealed chunks;
    /// nothing in clear lands in the repository or the temporary directory (issue 34). Held while pg_dump waits
    /// for a table lock.
    @Test func aBackupInProgressWritesOnlyAPrivateSealedPartialFile() throws {
        let (source, directory, common) = try setUp(contacts: 200)
        let scratch = directory + "/tmp"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let blocker = try source.newConnection()
        try blocker.execute("BEGIN")
        // Messages are left out of backups, so only pg_dump (which locks every table it describes) waits for them.
        try blocker.execute("LOCK TABLE sms.messages IN ACCESS EXCLUSIVE MODE")
        let backup = try RunningLethe(["backup"] + common, environment: ["TMPDIR": scratch])
        #expect(try KnownPoint.waitForLockWait(blocker, database: source.name), "pg_dump waits for the table")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/repo")
        #expect(files.count == 1 && files.first?.hasSuffix(".lethe-backup.partial") == true, "\(files)")
        let partial = directory + "/repo/" + (files.first ?? "missing")
        #expect(try FileManager.default.attributesOfItem(atPath: partial)[.posixPermissions] as? Int == 0o600)
        try blocker.execute("ROLLBACK")
        let outcome = backup.wait()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let done = try FileManager.default.contentsOfDirectory(atPath: directory + "/repo").sorted()
        #expect(done.count == 2 && done.allSatisfy { $0.hasSuffix(".lethe-backup") || $0.hasSuffix(".json") }, "\(done)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty, "no temporary file")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/repo/" + done.first { $0.hasSuffix(".lethe-backup") }!))
        for marker in BackupFixture.markers { #expect(bytes.range(of: Data(marker.utf8)) == nil, "\(marker) in clear") }
    }

    /// An older backup renamed to a newer backup's id is refused: the id inside the file is authenticated.
    @Test func aBackupRenamedToAnotherIdIsRefused() throws {
        let (source, directory, common) = try setUp(contacts: 200)
        defer { withExtendedLifetime(source) {} }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let old = try onlyBackup(directory)
        let newer = "29991231T235959Z-beef"
        try FileManager.default.moveItem(atPath: directory + "/repo/\(old).lethe-backup", toPath: directory + "/repo/\(newer).lethe-backup")
        let verify = try LetheProcess.run(["backup", "verify", newer] + offline(common))
        #expect(verify.status == 79, "\(verify.stdout)\(verify.stderr)")
        let listed = try LetheProcess.run(["backup", "list"] + offline(common))
        #expect(listed.status == 0 && listed.stdout.contains("NOT INTACT"), "\(listed.stdout)")
        let target = try TestDatabase(migrated: false)
        let restore = try LetheProcess.run(["restore", newer, "--target-database", target.conninfo] + common)
        #expect(restore.status == 79 && restore.stderr.contains("holds backup \(old)"), "\(restore.stderr)")
        #expect(try target.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname IN ('sms', 'lethe')").single("n").int("n") == 0)
    }

    /// With the live database unreachable, erasures done since the backup cannot be replayed: refused by default,
    /// and forced, said in the report, the audit record and the exit code.
    @Test func aRestoreWithoutTheLiveDatabaseIsRefusedUnlessForced() throws {
        let (source, directory, common) = try setUp(contacts: 100)
        defer { withExtendedLifetime(source) {} }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try onlyBackup(directory)
        let unreachable = offline(common) + ["--database-url", "host=127.0.0.1 port=1 connect_timeout=2"]
        let target = try TestDatabase(migrated: false)
        let refused = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + unreachable)
        #expect(refused.status == 69 && refused.stderr.contains("nothing was restored") && refused.stderr.contains("--without-erasure-replay"))
        #expect(try target.connection.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname IN ('sms', 'lethe')").single("n").int("n") == 0)
        let forced = try LetheProcess.run(["restore", id, "--target-database", target.conninfo, "--without-erasure-replay"] + unreachable)
        #expect(forced.status == 1, "\(forced.stderr)")
        #expect(forced.stdout.contains("erasures NOT replayed"))
        let audit = try target.connection.query("SELECT details->>'erasures_replay_skipped' AS skipped FROM lethe.audit_log WHERE action = 'restore'")
            .single("audit").string("skipped")
        #expect(audit == "true")
    }

    @Test func restoreRefusesAFullTargetUnlessClean() throws {
        let (source, directory, common) = try setUp(contacts: 100)
        defer { withExtendedLifetime(source) {} }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try onlyBackup(directory)
        let target = try TestDatabase(migrated: false)
        let first = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + common)
        #expect(first.status == 0 && first.stdout.contains("restored into"))
        let again = try LetheProcess.run(["restore", id, "--target-database", target.conninfo] + common)
        #expect(again.status == 73 && again.stderr.contains("--clean"))
        let clean = try LetheProcess.run(["restore", id, "--target-database", target.conninfo, "--clean"] + common)
        #expect(clean.status == 0)
        #expect(try BackupFixture.fingerprint(target.connection) == BackupFixture.fingerprint(source.connection))
        let dry = try LetheProcess.run(["restore", id, "--target-database", target.conninfo, "--clean", "--dry-run"] + common)
        #expect(dry.status == 0 && dry.stdout.contains("would restore"))
    }

    @Test func aWrongKeyringGivesAClearIntegrityError() throws {
        let (source, directory, common) = try setUp(contacts: 100)
        defer { withExtendedLifetime(source) {} }
        #expect(try LetheProcess.run(["backup"] + common).status == 0)
        let id = try onlyBackup(directory)
        #expect(try LetheProcess.run(["keys", "init", "--keyring", directory + "/other"]).status == 0)
        let wrong = common.map { $0 == directory + "/keyring" ? directory + "/other" : $0 }
        let verify = try LetheProcess.run(["backup", "verify", id] + offline(wrong))
        #expect(verify.status == 79 && verify.stdout.contains("does not authenticate with key-encryption key"))
    }

    @Test func aKilledBackupLeavesNothingCompleteAndTheNextOneWorks() throws {
        let (source, directory, common) = try setUp(contacts: 60_000)
        defer { withExtendedLifetime(source) {} }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: LetheProcess.binary)
        process.arguments = ["backup"] + common
        process.currentDirectoryURL = LetheProcess.packageRoot
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var sawPartial = false
        for _ in 0..<2000 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/repo")) ?? []
            if names.contains(where: { $0.hasSuffix(".partial") }) {
                sawPartial = true
                break
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(sawPartial, "killed while writing")
        let list = try LetheProcess.run(["backup", "list"] + offline(common).dropKeyring())
        #expect(list.status == 0 && list.stdout.contains("no backups"))
        let next = try LetheProcess.run(["backup"] + common)
        #expect(next.status == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/repo")
        #expect(!names.contains { $0.hasSuffix(".partial") })
        #expect(try LetheProcess.run(["backup", "verify", "--all"] + offline(common)).status == 0)
    }
}

extension Array where Element == String {
    /// Drops `option` and its value.
    func removing(option: String) -> [String] {
        var result: [String] = []
        var skip = false
        for item in self {
            if skip {
                skip = false
            } else if item == option {
                skip = true
            } else {
                result.append(item)
            }
        }
        return result
    }

    /// Listing backups needs no key.
    func dropKeyring() -> [String] { removing(option: "--keyring") }
}

@Suite struct PrivateFilesTests {
    /// A keyring another user owns is refused (exit 77), even with mode 0600. Only root can give a file away:
    /// elsewhere the test is reported as skipped, never passed without checking (issue 34).
    @Test(.enabled(if: geteuid() == 0, "chown to another user needs root"))
    func aKeyringOwnedByAnotherUserIsRefused() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        #expect(chown(keyring, 65534, 65534) == 0)
        let owned = try LetheProcess.run(["backup", "--keyring", keyring, "--repo", directory + "/repo", "--database-url", db.conninfo])
        #expect(owned.status == 77 && owned.stderr.contains("belongs to another user"), "\(owned.stderr)")
        #expect(chown(keyring, geteuid(), getegid()) == 0)
    }

    /// A keyring reached through a symbolic link is refused (exit 77), whoever runs the test.
    @Test func aKeyringBehindALinkIsRefused() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        try FileManager.default.createSymbolicLink(atPath: directory + "/link", withDestinationPath: keyring)
        let viaLink = try LetheProcess.run(["backup", "--keyring", directory + "/link", "--repo", directory + "/repo", "--database-url", db.conninfo])
        #expect(viaLink.status == 77, "\(viaLink.stderr)")
        #expect(try LetheProcess.run(["backup", "--keyring", keyring, "--repo", directory + "/repo", "--database-url", db.conninfo]).status == 0,
                "the file itself is accepted")
    }

    /// A backup repository open to group or others is made private, and the operator is told.
    @Test func anOpenRepositoryIsMadePrivate() throws {
        let directory = try IntakeFixture.directory()
        let repo = directory + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let list = try LetheProcess.run(["backup", "list", "--repo", repo])
        #expect(list.status == 0)
        #expect(list.stderr.contains("made private"), "\(list.stderr)")
        let mode = try FileManager.default.attributesOfItem(atPath: repo)[.posixPermissions] as! Int
        #expect(mode == 0o700)
    }
}
