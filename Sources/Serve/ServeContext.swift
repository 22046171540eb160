import Foundation
import Hummingbird
import LetheCrypto
import NIOCore
import NIOSSL

/// The request context of `lethe serve`: Hummingbird's core storage and the connection's channel, whose socket gives
/// the caller's peer credentials.
struct ServeContext: RequestContext {
    typealias Source = ApplicationRequestContextSource
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: Source) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// `struct ucred` (pid, uid, gid), as SO_PEERCRED fills it on Linux.
    struct PeerCredentials: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = UInt32.max
        var gid: UInt32 = UInt32.max
    }

    /// The subject CN of the caller's client certificate, verified by the TLS handshake against the client CA; nil
    /// when the connection is not TLS.
    func peerCommonName() async -> String? {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get(), let der = try? certificate.toDERBytes() else { return nil }
        return X509Name.commonName(der: der)
    }

    /// The Unix user the caller runs as, read from its socket (the kernel's word, not the caller's); nil when the
    /// connection is not a Unix socket.
    func peerUID() async -> UInt32? {
        guard let provider = channel as? SocketOptionProvider else { return nil }
        let credentials: PeerCredentials? = try? await provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)).get()
        guard let credentials, credentials.uid != UInt32.max else { return nil }
        return credentials.uid
    }
}
