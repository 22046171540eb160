import ArgumentParser
import Foundation
import LetheCore
import Logging

@main
struct Lethe: ParsableCommand {
    static let version = "0.1.0"

    /// ArgumentParser's own entry point, except that a usage error (exit 64) ends with a HINT line like every
    /// other error, so scripts and people find the same shape on stderr whatever failed.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            guard code.rawValue == LetheExitCode.usage.rawValue else { exit(withError: error) }
            let message = fullMessage(for: error).trimmingCharacters(in: .newlines)
            if jsonLogRequested(CommandLine.arguments) {
                // A log store reads stderr as one ECS object per line: the usage error is one, hint included.
                let first = message.split(separator: "\n").first.map(String.init) ?? message
                LetheLogging.bootstrap(format: .json, level: .error)
                Logger(label: "lethe").error("\(first)", metadata: [
                    "exit_code": .stringConvertible(code.rawValue), "error.message": "\(first)", "error.type": "usage",
                    "hint": "\(LetheExitCode.usage.defaultHint)", "usage": "\(message)",
                ])
            } else {
                FileHandle.standardError.write(Data("\(message)\nHINT: \(LetheExitCode.usage.defaultHint)\n".utf8))
            }
            Foundation.exit(code.rawValue)
        }
    }

    /// `--log-format json` or `--log-format=json` among the arguments, read before (or without) a successful parse.
    static func jsonLogRequested(_ arguments: [String]) -> Bool {
        zip(arguments, arguments.dropFirst()).contains { $0 == "--log-format" && $1 == "json" } || arguments.contains("--log-format=json")
    }

    static let configuration = CommandConfiguration(
        commandName: "lethe",
        abstract: "Data retention and GDPR worker for an SMS platform's PostgreSQL database.",
        discussion: """
            Lethe deletes personal data once its retention has passed (six months at most, shorter per customer), \
            seals personal columns, keeps encrypted backups, and records every destructive job in an audit log.

            Connection: --database-url or LETHE_DATABASE_URL (a postgresql:// URL or a key=value string); \
            otherwise libpq's defaults apply (PGHOST, PGPORT, PGDATABASE, PGUSER, ~/.pgpass), as for psql. \
            Policy: --policy or LETHE_POLICY, default Policies/default.yaml. Keyring: --keyring or LETHE_KEYRING.

            Exit codes are stable; 'lethe exit-codes' lists them.
            """,
        version: version,
        // `lethe --help` lists the commands by duty, as the README and docs/ do.
        groupedSubcommands: [
            CommandGroup(name: "Retention", subcommands: [
                PurgeCommand.self, PartitionsCommand.self, RetentionCommand.self, HoldCommand.self, PolicyCommand.self,
            ]),
            CommandGroup(name: "Data subjects", subcommands: [
                RequestsCommand.self, SubjectCommand.self, CustomerCommand.self, ImportCommand.self, ValidateCommand.self,
            ]),
            CommandGroup(name: "Keys and encryption", subcommands: [KeysCommand.self, EncryptCommand.self, ConstraintsCommand.self]),
            CommandGroup(name: "Backups", subcommands: [BackupCommand.self, RestoreCommand.self, LedgerCommand.self, ReconcileCommand.self]),
            CommandGroup(name: "Operations", subcommands: [
                MigrateCommand.self, WorkerCommand.self, ServeCommand.self, StatusCommand.self, InspectCommand.self, RolesCommand.self,
                AuditCommand.self, ExitCodesCommand.self,
            ]),
        ]
    )
}
