import Access
import ArgumentParser
import Foundation
import Schema

struct MigrateCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (Lethe's own lethe schema; the reference sms schema if the policy uses it).",
        discussion: """
            Each migration runs in one transaction together with its row in lethe.schema_migrations, so a \
            killed migrate leaves the schema at the last whole migration. Lethe refuses to run when an applied \
            migration's file has changed (checksum) or when the database holds a migration this binary does not know. \
            The reference sms schema (0002) is created only when the policy names an sms table (or with \
            --reference-schema); a database Lethe adopts, its tables declared in the policy, gets only the lethe schema.

            Examples:
              lethe migrate
              lethe migrate --status
              lethe migrate --status --json
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions

    @OptionGroup var policyOptions: PolicyOptions

    @Flag(name: .customLong("reference-schema"), inversion: .prefixedNo,
          help: "Create the reference sms schema (default: when the policy names an sms table, or when there is no policy file).")
    var referenceSchema: Bool?

    @Flag(help: "List applied and pending migrations; change nothing.")
    var status = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(name: .customLong("migrations-dir"),
            help: ArgumentHelp("Read migrations from this directory instead of those built into lethe (default: LETHE_MIGRATIONS_DIR).", valueName: "dir"))
    var migrationsDirectory: String?

    func execute() throws {
        let directory = migrationsDirectory ?? ProcessInfo.processInfo.environment["LETHE_MIGRATIONS_DIR"]
        let set = try directory.map { try MigrationSet.directory($0) } ?? MigrationSet.embedded()
        let db = try database.connect()
        if !status { try AccessCheck(db, policy: nil).requireMigration() }
        let migrator = Migrator(set: set, referenceSchema: try referenceSchema ?? policyUsesReferenceSchema())
        let report = status ? try migrator.status(on: db) : try migrator.migrate(on: db)
        let current = report.entries.last { $0.state == .applied }?.version ?? 0
        if json {
            try Output.json(MigrateJSON(report: report, currentVersion: current))
            return
        }
        if status {
            Output.table(["VERSION", "NAME", "STATE", "APPLIED AT"], report.entries.map {
                [String(format: "%04d", $0.version), $0.name, $0.state.rawValue, $0.appliedAt ?? "-"]
            })
            let pending = report.entries.filter { $0.state == .pending }.count
            Output.line(pending == 0 ? "schema is up to date at version \(current)" : "\(pending) migration(s) pending: run 'lethe migrate'")
            return
        }
        for entry in report.applied { Output.line("applied \(String(format: "%04d", entry.version))_\(entry.name)") }
        Output.line(report.applied.isEmpty
                    ? "nothing pending: schema is at version \(current)"
                    : "\(report.applied.count) migration(s) applied: schema is at version \(current)")
    }
}

extension MigrateCommand {
    /// True when the policy names an `sms` table, or when no policy file exists at all (a first install, before
    /// one is written: the reference schema, as before). A policy that exists but does not load is an error.
    func policyUsesReferenceSchema() throws -> Bool {
        let explicit = policyOptions.policyPath != nil || ProcessInfo.processInfo.environment["LETHE_POLICY"] != nil
        guard explicit || FileManager.default.fileExists(atPath: policyOptions.path) else { return true }
        return Migrator.usesReferenceSchema(try policyOptions.load())
    }
}

private struct MigrateJSON: Encodable {
    struct Entry: Encodable {
        let version: Int
        let name: String
        let state: String
        let appliedAt: String?
    }

    let currentVersion: Int
    let appliedNow: [Int]
    let migrations: [Entry]

    init(report: Migrator.Report, currentVersion: Int) {
        self.currentVersion = currentVersion
        appliedNow = report.applied.map(\.version)
        migrations = report.entries.map { Entry(version: $0.version, name: $0.name, state: $0.state.rawValue, appliedAt: $0.appliedAt) }
    }
}
