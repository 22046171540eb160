import Keys
import LetheCore

/// A backup's signature trailer as read: who it names, and whether its header signature holds.
public struct BackupSignature: Sendable {
    public let publicKey: [UInt8]
    public let headerValid: Bool

    init(trailer: [UInt8], headerValid: Bool) {
        publicKey = Array(trailer[8..<40])
        self.headerValid = headerValid
    }

    public var fingerprint: String { BackupSigner.fingerprint(of: publicKey) }
}

/// What a check proved about who made a backup. A format-1 backup proves it by the keyring itself (only a
/// keyring holder can make one); a format-2 backup only by a trusted signer's signature, since the public key
/// it is sealed to lives on the worker host by design.
public enum BackupOrigin: Sendable, Equatable, CustomStringConvertible, Encodable {
    /// A valid signature by one of the trusted signers.
    case signed(fingerprint: String)
    /// Format 1: the header authenticates under the keyring.
    case keyring(kekId: Int)
    /// Format 2, its header authenticates with a backup private key, but no trusted signer vouches for it.
    case sealed(String)
    /// Nothing was proven (listed without a key that checks it).
    case unverified(String)

    public var isProven: Bool {
        switch self {
        case .signed, .keyring: true
        case .sealed, .unverified: false
        }
    }

    /// The listing's word for it.
    public var description: String {
        switch self {
        case .signed(let fingerprint): "signed by \(fingerprint)"
        case .keyring(let kekId): "keyring (KEK \(kekId))"
        case .sealed: "sealed"
        case .unverified: "unverified"
        }
    }

    /// Why the origin is not proven, for refusals and reports.
    public var reason: String? {
        switch self {
        case .signed, .keyring: nil
        case .sealed(let why), .unverified(let why): why
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The origin of a file whose signature trailer (if any) has been checked.
    static func of(_ signature: BackupSignature?, keyringSealed kekId: Int?, trusted: [BackupSigner]) -> BackupOrigin {
        if let signature, signature.headerValid, trusted.contains(where: { $0.publicKey == signature.publicKey }) {
            return .signed(fingerprint: signature.fingerprint)
        }
        if let kekId { return .keyring(kekId: kekId) }
        guard let signature else { return .sealed("it carries no signature") }
        guard signature.headerValid else { return .unverified("its signature does not verify") }
        return .sealed("it is signed by \(signature.fingerprint), which is not a trusted signer")
    }
}
