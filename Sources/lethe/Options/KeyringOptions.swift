import ArgumentParser
import Foundation
import Keys
import LetheCore

struct KeyringOptions: ParsableArguments {
    @Option(name: .customLong("keyring"), help: ArgumentHelp("Keyring file, mode 0600 (default: LETHE_KEYRING, then /etc/lethe/keyring if it exists).", valueName: "file"))
    var keyringPath: String?

    static let systemKeyring = "/etc/lethe/keyring"

    var path: String? {
        // An empty LETHE_KEYRING means none, as a host without a keyring sets it.
        keyringPath ?? ProcessInfo.processInfo.environment["LETHE_KEYRING"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (FileManager.default.fileExists(atPath: Self.systemKeyring) ? Self.systemKeyring : nil)
    }

    func requiredPath() throws -> String {
        guard let path else {
            throw LetheError.usage("this command needs the keyring", hint: "pass --keyring FILE or set LETHE_KEYRING (create one with 'lethe keys init --keyring FILE')")
        }
        return path
    }

    func load() throws -> Keyring { try Keyring.load(path: try requiredPath()) }
}
