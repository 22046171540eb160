import Foundation
import Testing

/// C stays behind the three wrapper modules: no other module imports it, and no public
/// declaration outside the C targets exposes a pointer or C type.
@Suite struct ArchitectureTests {
    static let root: URL = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            directory.deleteLastPathComponent()
        }
        return directory
    }()

    static let cModules = ["CLibPQ", "COpenSSL", "CPhone", "CZstd"]
    static let cOwners = ["CLibPQ": "Postgres", "COpenSSL": "LetheCrypto", "CPhone": "Phone", "CZstd": "Zstd"]

    /// (module, file, text) for every Swift source outside the C targets.
    static func swiftSources() throws -> [(module: String, file: String, text: String)] {
        let sources = root.appendingPathComponent("Sources")
        var result: [(String, String, String)] = []
        for module in try FileManager.default.contentsOfDirectory(atPath: sources.path) where !cModules.contains(module) {
            guard let walker = FileManager.default.enumerator(atPath: sources.appendingPathComponent(module).path) else { continue }
            for case let file as String in walker where file.hasSuffix(".swift") {
                let text = try String(contentsOf: sources.appendingPathComponent(module).appendingPathComponent(file), encoding: .utf8)
                result.append((module, file, text))
            }
        }
        return result
    }

    @Test func onlyTheOwnersImportC() throws {
        let sources = try Self.swiftSources()
        #expect(sources.count > 20)
        for source in sources {
            for (cModule, owner) in Self.cOwners where source.text.contains("import \(cModule)\n") {
                #expect(source.module == owner, "\(source.module)/\(source.file) imports \(cModule)")
            }
        }
    }

    @Test func noPointerOrCTypeInAnyPublicDeclaration() throws {
        // "<Int8>": a C char pointer's element (UInt8, a byte, is fine).
        let forbidden = ["Unsafe", "OpaquePointer", "CChar", "CInt", "PGconn", "PGresult", "EVP_", "<Int8>", "lethe_phone", "Oid"]
        for source in try Self.swiftSources() {
            for (number, line) in source.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard trimmed.hasPrefix("public ") || trimmed.hasPrefix("open ") else { continue }
                let signature = trimmed.split(separator: "{", maxSplits: 1).first.map(String.init) ?? trimmed
                for word in forbidden {
                    #expect(!signature.contains(word), "\(source.module)/\(source.file):\(number + 1) exposes \(word)")
                }
            }
        }
    }

    /// The registers (issue 27 item 2): each is written by the module that owns it, so a column a migration adds
    /// is kept by every path that copies records. Writes are found by their SQL (INSERT, UPDATE, DELETE, COPY).
    @Test func everyRegisterIsWrittenOnlyByItsOwner() throws {
        let owners = ["retention_overrides": "Purge", "legal_holds": "Purge", "customer_keys": "Keys", "tombstones": "Subject",
                      "tombstone_rows": "Subject", "audit_log": "Audit", "job_runs": "Jobs"]
        var foundInOwners = Set<String>()
        for source in try Self.swiftSources() where source.module != "LetheBench" {
            for (table, owner) in owners {
                let write = try Regex("(INSERT INTO|UPDATE|DELETE FROM|COPY) lethe\\.\(table)\\b")
                let writes = source.text.firstMatch(of: write) != nil
                if source.module == owner {
                    if writes { foundInOwners.insert(table) }
                } else {
                    #expect(!writes, "\(source.module)/\(source.file) writes lethe.\(table), which \(owner) owns")
                }
            }
        }
        // Not vacuous: the owners' direct writes are found by the same pattern (the others go through functions).
        #expect(foundInOwners.isSuperset(of: ["customer_keys", "tombstones", "tombstone_rows", "job_runs"]), "\(foundInOwners)")
    }

    /// Backups (format, writer, reader, verifier) sit below the owners, and the fuzz targets that parse backup
    /// files depend on that reader only; only Restore reaches both the backups and the owners' replays.
    @Test func backupsAndTheirFuzzTargetsImportNoOwnerOfARegister() throws {
        let imports = try Regex("^(?:@testable )?import (\\w+)$").anchorsMatchLineEndings()
        for source in try Self.swiftSources() where ["Backup", "FuzzTargets"].contains(source.module) {
            let imported = source.text.matches(of: imports).compactMap { $0.output[1].substring.map(String.init) }
            for owner in ["Purge", "Subject", "Restore", "Jobs", "Inspect", "Access"] {
                #expect(!imported.contains(owner), "\(source.module)/\(source.file) imports \(owner)")
            }
        }
    }

    /// SQL binds by construction (issue 27 item 3): the connection takes only `SQL`, whose interpolations bind values
    /// and quote identifiers, and no product module takes SQL as a `String`. Text spliced as is goes through
    /// `unsafeRaw:`, allowed only in these files, each for a reason a reviewer can check.
    @Test func sqlTextIsSplicedOnlyThroughTheListedEscapeHatches() throws {
        let allowed = [
            "Access/RolesApply.swift": 1,  // grant statements from quoted policy identifiers and fixed role names
            "Keys/Envelope.swift": 1,  // the envelope header constants, hex
            "Purge/DetachedPartitions.swift": 1,  // a partition's bound clause as PostgreSQL rendered it
            "Purge/PurgeExecutor.swift": 1,  // the same, when a partition is rebuilt around held rows
            "Schema/PartitionAdoption.swift": 1,  // an index definition as PostgreSQL printed it, re-aimed at the new parent
            "Schema/Migrator.swift": 3,  // Lethe's own embedded migrations
            "Restore/ApplicationStructure.swift": 1,  // pg_dump's structure of the live database's own tables, never the archive's
            "LetheBench/TextSQL.swift": 3,  // the benchmarks' data sets, written as text like the tests' fixtures
        ]
        var found: [String: Int] = [:]
        for source in try Self.swiftSources() where !(source.module == "Postgres" && source.file == "SQL.swift") {
            let uses = source.text.components(separatedBy: "unsafeRaw:").count - 1
            if uses > 0 { found["\(source.module)/\(source.file)"] = uses }
            if source.module != "LetheBench" {
                #expect(source.text.firstMatch(of: /func (query|execute|executeScript)\(_ \w+: String/) == nil,
                        "\(source.module)/\(source.file) takes SQL as a String")
            }
        }
        #expect(found == allowed, "unsafeRaw: is used \(found), allowed \(allowed): bind the value or quote the identifier instead")
    }
}
