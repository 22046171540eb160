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
}
