import Foundation
import Postgres
import Testing
import TestSupport

/// Exit codes a retrying wrapper can trust (issue 29): only an unreachable server is 69; credentials are 77, a
/// malformed option 64. And pg_dump connects exactly as Lethe does, with the password out of its command line.
@Suite(.serialized) struct ConnectionExitCodeTests {
    /// The one role of the throwaway cluster that logs in with a password (scripts/with-postgres.sh's pg_hba line).
    static let passwordRole = "lethe_password_login"
    static let password = "Corr3ct-h0rse-batt3ry"

    static func ensurePasswordRole() throws {
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        try admin.execute("""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lethe_password_login') THEN
                CREATE ROLE lethe_password_login LOGIN SUPERUSER PASSWORD 'Corr3ct-h0rse-batt3ry';
              END IF;
            END $$
            """)
    }

    @Test func aWrongPasswordExits77AndAnUnreachableServer69() throws {
        try Self.ensurePasswordRole()
        let db = try TestDatabase()
        let wrong = try LetheProcess.run(["status", "--database-url", "dbname=\(db.name) user=\(Self.passwordRole) password=Wr0ng-pass-phrase"])
        #expect(wrong.status == 77, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("password authentication failed") && wrong.stderr.contains("HINT:") && wrong.stderr.contains("retrying will not help"),
                "\(wrong.stderr)")
        #expect(!wrong.stderr.contains("Wr0ng-pass-phrase"))
        let noSuchRole = try LetheProcess.run(["status", "--database-url", "dbname=\(db.name) user=no_such_role_here"])
        #expect(noSuchRole.status == 77, "\(noSuchRole.stderr)")
        let badOption = try LetheProcess.run(["status", "--database-url", "dbname=\(db.name) sslmode=sometimes"])
        #expect(badOption.status == 64, "\(badOption.stderr)")
        #expect(badOption.stderr.contains("sslmode") && badOption.stderr.contains("HINT:"), "\(badOption.stderr)")
        let unknownKeyword = try LetheProcess.run(["status", "--database-url", "dbname=\(db.name) sslmdoe=require"])
        #expect(unknownKeyword.status == 64, "\(unknownKeyword.stderr)")
        let missingDatabase = try LetheProcess.run(["status", "--database-url", "dbname=no_such_database_here"])
        #expect(missingDatabase.status == 78, "\(missingDatabase.stderr)")
        let unreachable = try LetheProcess.run(["status", "--database-url", "host=127.0.0.1 port=1 dbname=sms connect_timeout=2"])
        #expect(unreachable.status == 69, "\(unreachable.stderr)")
        #expect(unreachable.stderr.contains("worth retrying"), "\(unreachable.stderr)")
    }

    @Test func theRightPasswordReachesPgDumpOutsideItsCommandLine() throws {
        try Self.ensurePasswordRole()
        let (source, directory, _) = try BackupFixture.commandLineSetUp(contacts: 20)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Options the old hand-made environment mapping dropped ride along: pg_dump must accept them too.
        let url = "dbname=\(source.name) user=\(Self.passwordRole) password=\(Self.password) channel_binding=prefer gssencmode=disable sslmode=disable"
        let backup = try LetheProcess.run(["backup", "--database-url", url, "--keyring", directory + "/keyring", "--repo", directory + "/repo"])
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(!backup.stderr.contains(Self.password) && !backup.stdout.contains(Self.password))
    }

    @Test func aChildGetsEveryOptionButThePassword() throws {
        let child = try ChildConnection(conninfo: "postgresql://ops:s3cr%27t@db.example:6432/sms?sslmode=verify-full&channel_binding=require&sslcrl=/etc/crl.pem&gssencmode=disable&ssl_min_protocol_version=TLSv1.3&application_name=x",
                                        applicationName: "lethe backup")
        for option in ["host='db.example'", "port='6432'", "dbname='sms'", "user='ops'", "sslmode='verify-full'", "channel_binding='require'",
                       "sslcrl='/etc/crl.pem'", "gssencmode='disable'", "ssl_min_protocol_version='TLSv1.3'", "application_name='lethe backup'"] {
            #expect(child.connectionString.contains(option), "\(option) in \(child.connectionString)")
        }
        #expect(!child.connectionString.contains("s3cr") && !child.connectionString.contains("password"))
        #expect(child.environment == ["PGPASSWORD": "s3cr't"])
        // Quoting as libpq reads it: the string parses back to the same values.
        let tricky = try ChildConnection(conninfo: #"dbname='we\'ird \\ name' host=h"#, applicationName: "a")
        let reparsed = try ChildConnection(conninfo: tricky.connectionString, applicationName: "a")
        #expect(reparsed.connectionString == tricky.connectionString)
        #expect(tricky.connectionString.contains(#"dbname='we\'ird \\ name'"#), "\(tricky.connectionString)")
    }
}
