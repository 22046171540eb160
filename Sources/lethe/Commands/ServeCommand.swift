import ArgumentParser
import Dispatch
import Foundation
import Keys
import LetheCore
import Logging
import Serve

struct ServeCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Let the platform's live API write, find and read personal data in Lethe's sealed form, over a Unix socket.",
        discussion: """
            Listens on a Unix socket (--socket, default the policy's serve.socket, then /run/lethe/lethe.sock; mode 0660). \
            A caller is known by its peer credentials (the Unix user it runs as) and must be declared in the policy: \
            serve: { clients: [ { name: api, uid: 1001, may: [intake, seal, lookup, open], customers: [42] } ] }. An \
            undeclared caller gets 401, a declared one asking beyond its rights 403; no request is served anonymously.

            JSON over HTTP/1.1, batch-first (docs/openapi.yaml): POST /v1/intake/{name} (rows validated, normalised, \
            sealed, blind-indexed and inserted in one transaction, as 'lethe import' does; a bad row refuses the batch, \
            422 naming its index and field), POST /v1/lookup (a number's rows, by blind index, confirmed by decryption), \
            POST /v1/open (plaintexts), POST /v1/seal (an envelope and blind index for a row the application inserts \
            itself), GET /healthz, GET /metrics (Prometheus). A shredded customer is refused from the next request on. \
            Every use is counted per client, customer, route and hour (lethe.serve_usage), each such hour with an audit \
            record. Needs the keyring. SIGTERM or SIGINT: in-flight requests finish, exit 0.

            Examples:
              lethe serve --socket /run/lethe/lethe.sock
              curl --unix-socket /run/lethe/lethe.sock -d '{"customer": 42, "phone": "06 12 34 56 78"}' http://lethe/v1/lookup
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @Option(help: ArgumentHelp("Unix socket to listen on (default: the policy's serve.socket, then /run/lethe/lethe.sock).", valueName: "path"))
    var socket: String?
    @Option(help: ArgumentHelp("Database sessions shared by the requests.", valueName: "n")) var sessions = 8
    @Option(help: ArgumentHelp("Also listen on TCP with mutual TLS (needs --tls-cert, --tls-key and --client-ca).", valueName: "host:port"))
    var listen: String?
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("The server's certificate chain (PEM), for --listen.", valueName: "file")) var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The server's private key (PEM), for --listen.", valueName: "file")) var tlsKey: String?
    @Option(name: .customLong("client-ca"), help: ArgumentHelp("The CA that signs the clients' certificates (PEM), for --listen; a client is known by its certificate's CN (certificate_cn).", valueName: "file"))
    var clientCA: String?

    func validate() throws {
        if let listen {
            guard let colon = listen.lastIndex(of: ":"), Int(listen[listen.index(after: colon)...]) != nil else {
                throw ValidationError("--listen must be host:port, e.g. 127.0.0.1:8443")
            }
            guard tlsCertificate != nil, tlsKey != nil, clientCA != nil else {
                throw ValidationError("--listen needs --tls-cert, --tls-key and --client-ca: lethe serve never listens on TCP without client certificates")
            }
        }
    }

    var defaultLogLevel: Logger.Level { .info }

    func execute() throws {
        let policy = try policyOptions.load()
        _ = try database.connect(for: .app, .operator, command: "serve", policy: policy)
        var settings = ServeSettings(conninfo: database.conninfo, policy: policy, keyring: try keyring.load(),
                                     socket: socket ?? policy.serve.socket ?? "/run/lethe/lethe.sock")
        settings.sessions = max(1, sessions)
        if let listen, let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) {
            settings.listen = (String(listen[..<colon]), port)
            (settings.tlsCertificate, settings.tlsKey, settings.clientCA) = (tlsCertificate, tlsKey, clientCA)
        }
        let service = try LetheService(settings: settings, logger: Logger(label: "lethe.serve"))
        let failure = Locked<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await service.run() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = failure.value { throw error }
    }
}
