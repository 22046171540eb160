import ArgumentParser
import LetheCore

@main
struct Lethe: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "lethe",
        abstract: "Data retention and GDPR worker for an SMS platform's PostgreSQL database.",
        discussion: """
            Lethe deletes personal data once its retention has passed (six months at most, shorter per customer),
            keeps the schema and partitions it needs, and answers the DPO's requests with proof.

            Connection: --database-url or LETHE_DATABASE_URL (a postgresql:// URL or a key=value string);
            otherwise libpq's defaults apply (PGHOST, PGPORT, PGDATABASE, PGUSER, ~/.pgpass), as for psql.
            Policy: --policy or LETHE_POLICY, default Policies/default.yaml.

            Exit codes are stable; `lethe exit-codes` lists them.
            """,
        version: version,
        subcommands: [
            MigrateCommand.self,
            PolicyCommand.self,
            PartitionsCommand.self,
            PurgeCommand.self,
            RetentionCommand.self,
            HoldCommand.self,
            AuditCommand.self,
            KeysCommand.self,
            ImportCommand.self,
            ValidateCommand.self,
            EncryptCommand.self,
            CustomerCommand.self,
            BackupCommand.self,
            RestoreCommand.self,
            ExitCodesCommand.self,
        ]
    )
}
