import ArgumentParser
import Foundation
import Keys
import Ledger
import LetheCore

/// Where the ledger outside the database lives (issue 32), and the key that authenticates it.
struct LedgerOptions: ParsableArguments {
    @Option(name: .customLong("ledger"), help: ArgumentHelp(
        "Ledger directory, mode 0700, outside the database (default: LETHE_LEDGER, then \(Ledger.defaultRoot) if it exists).", valueName: "dir"))
    var directory: String?

    @Option(name: .customLong("ledger-key"), help: ArgumentHelp(
        "Ledger key file from 'lethe ledger init' (default: LETHE_LEDGER_KEY, then \(Ledger.defaultKeyPath) if it exists, then derived from the keyring).",
        valueName: "file"))
    var keyPath: String?

    static func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 } }

    /// The ledger directory, or nil when none is configured.
    var root: String? {
        directory ?? Self.environment("LETHE_LEDGER") ?? (FileManager.default.fileExists(atPath: Ledger.defaultRoot) ? Ledger.defaultRoot : nil)
    }

    var keyFile: String? {
        keyPath ?? Self.environment("LETHE_LEDGER_KEY") ?? (FileManager.default.fileExists(atPath: Ledger.defaultKeyPath) ? Ledger.defaultKeyPath : nil)
    }

    /// The configured ledger, or nil when there is none (no --ledger, no LETHE_LEDGER, no default directory). A
    /// configured ledger without its key is refused (78): its records could not be written or checked.
    func ledger(keyring: Keyring? = nil) throws -> Ledger? {
        guard let root else { return nil }
        guard FileManager.default.fileExists(atPath: root) else {
            throw LetheError.noInput("the ledger directory \(root) does not exist", hint: "create it with 'lethe ledger init --keyring FILE --ledger \(root)'")
        }
        if let keyFile { return Ledger(root: root, key: try LedgerKey.load(path: keyFile)) }
        if let keyring { return Ledger(root: root, key: LedgerKey(try keyring.derivedKey(.ledger))) }
        throw LetheError.config("the ledger \(root) needs its key to be written or checked",
                                hint: "pass --ledger-key FILE or set LETHE_LEDGER_KEY (written by 'lethe ledger init --keyring FILE')")
    }

    /// The configured ledger, required.
    func requiredLedger(keyring: Keyring? = nil) throws -> Ledger {
        guard let ledger = try ledger(keyring: keyring) else {
            throw LetheError.usage("no ledger is configured", hint: "pass --ledger DIR or set LETHE_LEDGER (create one with 'lethe ledger init --keyring FILE --ledger DIR')")
        }
        return ledger
    }
}

extension LedgerOptions {
    /// An irreversible action done with no ledger configured: a physical restore of the database would undo it.
    static func warnUnrecorded(_ action: String) {
        Terminal.warn("no ledger is configured (--ledger, LETHE_LEDGER, \(Ledger.defaultRoot)): a physical or point-in-time restore of the database "
                       + "would undo this \(action) (lethe ledger init --keyring FILE sets one up)")
    }
}
