import Foundation

/// Who is running lethe on this machine, recorded beside the database user in ledgers and audit records.
public enum OperatorIdentity {
    public static var osUser: String {
        let name = NSUserName()
        return name.isEmpty ? "uid:\(getuid())" : name
    }
}
