// swift-tools-version:6.0
import Foundation
import PackageDescription

// Lethe: retention and GDPR worker for PostgreSQL.
// C is confined to CLibPQ, COpenSSL and CPhone; only Postgres, LetheCrypto and Phone import them.
let package = Package(
    name: "lethe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lethe", targets: ["lethe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C boundary
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(
            name: "CPhone",
            linkerSettings: [.linkedLibrary("phonenumber"), .linkedLibrary("protobuf"), .linkedLibrary("icui18n"), .linkedLibrary("icuuc")]
        ),

        // Foundations
        .target(name: "LetheCore", dependencies: [.product(name: "Logging", package: "swift-log")]),
        .target(name: "Postgres", dependencies: ["CLibPQ", "LetheCore", .product(name: "Logging", package: "swift-log")]),
        .target(name: "LetheCrypto", dependencies: ["COpenSSL", "LetheCore"]),
        .target(name: "Phone", dependencies: ["CPhone", "LetheCore"]),
        .target(name: "Policy", dependencies: ["LetheCore", "Yams"]),
        .target(name: "Zstd", dependencies: ["CZstd", "LetheCore"]),
        // Metrics in Prometheus text format for node_exporter's textfile collector (ECS logs live in LetheCore).
        .target(name: "Telemetry", dependencies: ["LetheCore", .product(name: "Prometheus", package: "swift-prometheus")]),

        // Jobs
        .target(
            name: "Schema",
            dependencies: ["LetheCore", "Postgres", "Policy", "LetheCrypto"],
            plugins: ["EmbedMigrations"]
        ),

        .target(name: "Audit", dependencies: ["LetheCore", "Postgres"]),
        // The ledger outside the database: authenticated, hash-chained records of erasures, shreds, retention changes
        // and hold releases, written before their transaction commits (issue 32).
        .target(name: "Ledger", dependencies: ["LetheCore", "LetheCrypto", "Postgres"]),
        .target(name: "Keys", dependencies: ["LetheCore", "LetheCrypto", "Phone", "Policy", "Postgres", "Audit", "Schema", "Ledger"]),
        .target(name: "Intake", dependencies: ["LetheCore", "Postgres", "Policy", "Phone", "Keys", "Schema", "Audit", "LetheCrypto"]),
        .target(name: "Subject", dependencies: [
            "LetheCore", "LetheCrypto", "Postgres", "Policy", "Phone", "Keys", "Audit", "Schema", "Ledger",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Backups: the format, writer, reader, verifier, expiry and the PostgreSQL tools; nothing that writes a register.
        .target(name: "Backup", dependencies: ["LetheCore", "LetheCrypto", "Zstd", "Keys", "Postgres", "Policy", "Schema", "Audit"]),
        // Restores: a verified backup's data into a database, then the live decisions replayed through their owners
        // (Purge's overrides and holds, Keys' shreds, Subject's tombstones).
        .target(name: "Restore", dependencies: ["LetheCore", "LetheCrypto", "Zstd", "Keys", "Postgres", "Policy", "Schema", "Audit", "Purge", "Subject", "Backup", "Ledger",
                                                .product(name: "Logging", package: "swift-log")]),
        .target(name: "Purge", dependencies: ["LetheCore", "Postgres", "Policy", "Schema", "Audit", "LetheCrypto", "Ledger"]),

        .target(name: "Access", dependencies: ["LetheCore", "Postgres", "Policy", "Audit", "Purge"]),
        .target(name: "Inspect", dependencies: ["LetheCore", "LetheCrypto", "Postgres", "Policy", "Schema", "Purge", "Backup", "Keys", "Subject", "Ledger"]),

        // The job contract both callers use: each scheduled job once, and the runner around it (lock, job_runs row,
        // final log line, metrics file).
        .target(name: "Jobs", dependencies: [
            "LetheCore", "Postgres", "Policy", "Schema", "Purge", "Backup", "Keys", "Subject", "Telemetry", "Inspect", "Audit", "Ledger", "Restore",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The scheduled worker: schedules and process lifetime; runs the jobs through the same runner as the commands.
        .target(name: "Worker", dependencies: [
            "LetheCore", "Postgres", "Policy", "Schema", "Jobs",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // `lethe serve`: the platform's live API writes, finds and reads personal data in Lethe's sealed form through it
        // (issue 31), over a Unix socket whose callers are known by their peer credentials.
        .target(name: "Serve", dependencies: [
            "LetheCore", "LetheCrypto", "Postgres", "Policy", "Phone", "Keys", "Audit", "Schema", "Subject", "Intake",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // Command line
        .executableTarget(
            name: "lethe",
            dependencies: [
                "LetheCore", "Postgres", "LetheCrypto", "Phone", "Policy", "Schema", "Audit", "Purge", "Keys", "Intake", "Backup", "Restore", "Subject",
                "Telemetry", "Jobs", "Worker", "Inspect", "Access", "Ledger", "Serve",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // jemalloc in place of glibc's malloc: libphonenumber's ICU regexes allocate a matcher per match, and
            // glibc's arenas made the import's threads wait on each other (futex waits, ~10% of the client's CPU).
            // Measured on the 1M-row import with ~63% distinct numbers: 13.9-14.3 s with glibc, 12.1-12.2 s with it.
            linkerSettings: [.linkedLibrary("jemalloc")]
        ),

        // Parsers of untrusted bytes and their contracts: replayed on the corpus by `make test`, fuzzed by `make fuzz`.
        .target(name: "FuzzTargets", dependencies: ["LetheCore", "LetheCrypto", "Intake", "Keys", "Backup", "Policy", "Phone"]),

        // `make bench`: measures jobs against their baselines.
        .executableTarget(name: "LetheBench", dependencies: ["LetheCore", "LetheCrypto", "Postgres", "Policy", "Schema", "Keys", "Phone"]),

        // Build tooling: Migrations/*.sql are compiled into the binary, so a deployed lethe knows its own schema.
        .executableTarget(name: "MigrationEmbedder"),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["MigrationEmbedder"]),

        // Tests
        .target(name: "TestSupport", dependencies: ["Postgres", "LetheCore", "Schema", "Policy"], path: "Tests/TestSupport"),
        .testTarget(name: "LetheCoreTests", dependencies: ["LetheCore"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(name: "LetheCryptoTests", dependencies: ["LetheCrypto"]),
        .testTarget(name: "PhoneTests", dependencies: ["Phone"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "LetheCore"]),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd", "LetheCore"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"]),
        .testTarget(name: "AccessTests", dependencies: ["Access", "Policy"]),
        .testTarget(name: "InspectTests", dependencies: ["Inspect"]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Jobs", "LetheCore", "Telemetry", "Policy", "Purge", "TestSupport"]),
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "Policy", "Postgres", "TestSupport"]),
        .testTarget(name: "SchemaTests", dependencies: ["Schema", "Policy", "TestSupport"]),
        .testTarget(name: "AuditTests", dependencies: ["Audit", "TestSupport"]),
        .testTarget(name: "PurgeTests", dependencies: ["Purge", "Audit", "Policy", "Schema", "TestSupport"]),
        .testTarget(name: "KeysTests", dependencies: ["Keys", "LetheCrypto", "Phone", "TestSupport"]),
        .testTarget(name: "IntakeTests", dependencies: ["Intake", "Keys", "Phone", "Policy", "TestSupport"]),
        .testTarget(name: "BackupTests", dependencies: ["Backup", "Restore", "Keys", "LetheCrypto", "Zstd", "Purge", "Policy", "TestSupport"]),
        .testTarget(name: "SubjectTests", dependencies: ["Subject", "Audit", "Intake", "Keys", "LetheCrypto", "Phone", "Policy", "Purge", "Backup", "Restore", "LetheCore", "TestSupport"]),
        .testTarget(name: "FuzzTargetTests", dependencies: ["FuzzTargets", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "lethe", "Keys", "Backup", "Policy", "Yams", "LetheCore"]),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "LetheCore", "LetheCrypto", "TestSupport"]),
    ],
    cxxLanguageStandard: .cxx17
)

// `make fuzz` only (LETHE_FUZZ=1): the library modules are compiled with libFuzzer's coverage and the address
// sanitizer, and the driver links libFuzzer and calls its driver.
// Flags per target rather than `--sanitize`, which would also link libFuzzer into the build tools.
// Ordinary builds never see this.
if ProcessInfo.processInfo.environment["LETHE_FUZZ"] != nil {
    let sanitizers = ["-sanitize=fuzzer,address"]
    for target in package.targets where target.type == .regular {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(sanitizers)]
    }
    package.products.append(.executable(name: "lethe-fuzz", targets: ["LetheFuzz"]))
    package.targets.append(.executableTarget(name: "LetheFuzz", dependencies: ["FuzzTargets"], path: "Fuzz/Driver",
                                             swiftSettings: [.unsafeFlags(sanitizers)],
                                             linkerSettings: [.unsafeFlags(sanitizers + ["-use-ld=lld"])]))
}
