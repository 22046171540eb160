import Foundation

/// `serve:` in the policy (issue 31): the clients `lethe serve` answers, each known by its peer credentials on the
/// Unix socket (`uid`), what it may do, and for which customers. A caller not declared here is refused (401); a
/// declared one asking beyond its rights (403). No request is served anonymously.
public struct ServePolicy: Sendable, Equatable {
    public enum Right: String, Sendable, CaseIterable, Equatable {
        /// `POST /v1/intake/{name}`: rows in, validated, sealed and inserted.
        case intake
        /// `POST /v1/seal`: an envelope and blind index for a row the application inserts itself.
        case seal
        /// `POST /v1/lookup`: a number's rows, by blind index, confirmed by decryption.
        case lookup
        /// `POST /v1/open`: plaintexts.
        case open
    }

    public struct Client: Sendable, Equatable {
        public let name: String
        /// The Unix user id a socket caller runs as (SO_PEERCRED).
        public let uid: UInt32?
        /// The subject common name of a TCP caller's client certificate (mutual TLS).
        public var certificateCN: String? = nil
        public let may: Set<Right>
        /// The customers it acts for; nil for every customer.
        public let customers: Set<Int64>?

        public init(name: String, uid: UInt32?, certificateCN: String? = nil, may: Set<Right>, customers: Set<Int64>?) {
            self.name = name
            self.uid = uid
            self.certificateCN = certificateCN
            self.may = may
            self.customers = customers
        }
    }

    public var clients: [Client] = []
    /// Where it listens (`socket:`), unless `--socket` says otherwise.
    public var socket: String?

    public init(clients: [Client] = [], socket: String? = nil) {
        self.clients = clients
        self.socket = socket
    }

    public func client(uid: UInt32) -> Client? { clients.first { $0.uid == uid } }

    public func client(certificateCN: String) -> Client? { clients.first { $0.certificateCN == certificateCN } }
}
