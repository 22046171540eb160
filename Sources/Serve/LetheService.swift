import Foundation
import Hummingbird
import HummingbirdTLS
import Intake
import Keys
import LetheCore
import Logging
import NIOCore
import NIOSSL
import Phone
import Policy
import Postgres
import Schema
import ServiceLifecycle
import Subject

/// What `lethe serve` needs, resolved by the command line.
public struct ServeSettings: Sendable {
    public let conninfo: String?
    public let policy: RetentionPolicy
    public let keyring: Keyring
    public let socket: String
    /// Database sessions shared by the requests.
    public var sessions = 8
    /// TCP with mutual TLS, beside the socket: `host:port`, the server's certificate chain and key (PEM), and the CA
    /// that signs the clients' certificates. Never TCP without client certificates.
    public var listen: (host: String, port: Int)? = nil
    public var tlsCertificate: String? = nil
    public var tlsKey: String? = nil
    public var clientCA: String? = nil

    public init(conninfo: String?, policy: RetentionPolicy, keyring: Keyring, socket: String) {
        self.conninfo = conninfo
        self.policy = policy
        self.keyring = keyring
        self.socket = socket
    }
}

/// A refusal the caller reads: HTTP status, what failed, and a hint; never a personal value.
struct ServeError: Error {
    let status: HTTPResponse.Status
    let message: String
    let hint: String
    var index: Int? = nil
    var field: String? = nil
}

/// `lethe serve` (issue 31): the platform's live API writes, finds and reads personal data only in Lethe's sealed form
/// through it, over a Unix socket (mode 0660) whose callers are known by their peer credentials and declared in the
/// policy (`serve.clients`). JSON over HTTP/1.1, batch-first; see `openapi.yaml`.
public final class LetheService: Sendable {
    let settings: ServeSettings
    let sessions: ServeSessions
    let metrics = ServeMetrics()
    let logger: Logger

    /// Refused (78) for a policy that declares no client: the service would answer nobody.
    public init(settings: ServeSettings, logger: Logger) throws {
        guard !settings.policy.serve.clients.isEmpty else {
            throw LetheError.config("the policy \(settings.policy.source) declares no client of lethe serve: it would answer nobody",
                                    hint: "add serve: { clients: [ { name: api, uid: UID, may: [intake, lookup, open, seal] } ] } (see 'lethe serve --help')")
        }
        self.settings = settings
        self.logger = logger
        sessions = ServeSessions(conninfo: settings.conninfo, keyring: settings.keyring, policy: settings.policy, size: settings.sessions)
    }

    var policy: RetentionPolicy { settings.policy }

    /// Binds the socket (and the TLS port) and answers until SIGTERM or SIGINT (in-flight requests finish; exit 0).
    public func run() async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: try services().map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped", metadata: ["event.action": "serve.stop"])
    }

    /// The listeners, for a swift-service-lifecycle group (`lethe worker --serve-socket`: the worker's).
    public func services() throws -> [any Service] { [try application()] + (try tlsApplication().map { [$0] } ?? []) }

    /// TCP with mutual TLS: a client without a certificate the client CA signed does not complete the handshake.
    func tlsApplication() throws -> (any Service)? {
        guard let listen = settings.listen else { return nil }
        guard let certificate = settings.tlsCertificate, let key = settings.tlsKey, let clientCA = settings.clientCA else {
            throw LetheError.usage("--listen needs --tls-cert, --tls-key and --client-ca: lethe serve never listens on TCP without client certificates")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .file(clientCA)
        configuration.minimumTLSVersion = .tlsv12
        let logger = self.logger
        return Application(router: router(), server: try .tls(.http1(), tlsConfiguration: configuration),
                           configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "lethe"),
                           onServerRunning: { _ in logger.info("serving with mutual TLS", metadata: ["event.action": "serve.start", "listen": "\(listen.host):\(listen.port)"]) },
                           logger: logger)
    }

    func application() throws -> some ApplicationProtocol {
        var info = stat()
        if lstat(settings.socket, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw LetheError(.cannotCreate, "\(settings.socket) exists and is not a socket", hint: "give another --socket path")
            }
            unlink(settings.socket)  // left by a stopped instance: a running one would hold its own inode
        }
        let socket = settings.socket
        let logger = self.logger
        let app = Application(router: router(), configuration: .init(address: .unixDomainSocket(path: socket), serverName: "lethe"),
                              onServerRunning: { _ in
                                  chmod(socket, 0o660)
                                  logger.info("serving", metadata: ["event.action": "serve.start", "socket": "\(socket)"])
                              }, logger: logger)
        return app
    }

    func router() -> Router<ServeContext> {
        let router = Router(context: ServeContext.self)
        router.get("/healthz") { _, context in
            try await self.answer("healthz", context, right: nil, customer: nil) { _ in
                try await self.sessions.with { session in _ = try session.db.query("SELECT 1 AS ok") }
                return try Self.json(["status": "ok"])
            }
        }
        router.get("/metrics") { _, context in
            try await self.answer("metrics", context, right: nil, customer: nil) { _ in
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: self.metrics.exposition())))
            }
        }
        router.post("/v1/intake/:name") { request, context in
            let name = context.parameters.get("name") ?? ""
            let body = try await Self.decode(IntakeRequest.self, request, route: "intake")
            return try await self.answer("intake", context, right: .intake, customer: body?.customer) { client in
                guard let kind = IntakeKind(rawValue: name), self.policy.tables.contains(where: { $0.intake?.name == name }) else {
                    throw ServeError(status: .notFound, message: "no intake named '\(name.prefix(40))' in the policy",
                                     hint: "intakes of the policy: \(self.policy.tables.compactMap(\.intake?.name).joined(separator: ", "))")
                }
                guard let body else {
                    throw ServeError(status: .unprocessableContent, message: "the body is not an intake request",
                                     hint: "send {\"customer\": ID, \"rows\": [ {field: \"text\", ...}, ... ]}, every value a string")
                }
                let written = try await self.sessions.with { session in
                    try self.refuseShredded(body.customer, session.db)
                    return try session.intake.write(kind: kind, customer: body.customer, rows: body.rows) { db in
                        try self.note(client, body.customer, "intake", Int64(body.rows.count), db)
                    }
                }
                self.metrics.sealed(written.count * 2)
                return try Self.json(IntakeResponse(ids: written.map(\.id), rows: written))
            }
        }
        router.post("/v1/lookup") { request, context in
            let body = try await Self.decode(LookupRequest.self, request, route: "lookup")
            return try await self.answer("lookup", context, right: .lookup, customer: body?.customer) { client in
                guard let body else { throw ServeError(status: .unprocessableContent, message: "the body is not a lookup request", hint: "send {\"customer\": ID, \"phone\": \"...\"}") }
                guard case .success(let number) = PhoneNumber.parse(body.phone, defaultRegion: self.policy.defaultRegion, rules: self.policy.phoneRules) else {
                    throw ServeError(status: .unprocessableContent, message: "field phone: not a phone number of the policy's rules", hint: "send the number as the platform received it", field: "phone")
                }
                let rows = try await self.sessions.with { session in
                    try self.refuseShredded(body.customer, session.db)
                    let rows = try SubjectLookup(db: session.db, policy: self.policy, keyring: self.settings.keyring).rows(of: number, customer: body.customer)
                    try self.note(client, body.customer, "lookup", Int64(rows.values.reduce(0) { $0 + $1.count }), session.db)
                    return rows
                }
                return try Self.json(LookupResponse(rows: rows))
            }
        }
        router.post("/v1/open") { request, context in
            let body = try await Self.decode(OpenRequest.self, request, route: "open")
            return try await self.answer("open", context, right: .open, customer: body?.customer) { client in
                guard let body else { throw ServeError(status: .unprocessableContent, message: "the body is not an open request", hint: "send {\"table\", \"customer\", \"ids\", \"columns\"}") }
                let (table, columns) = try self.personalColumns(body.table, body.columns)
                guard body.ids.count <= 1000 else { throw ServeError(status: .unprocessableContent, message: "field ids: at most 1000 ids a request", hint: "split the request", field: "ids") }
                let rows = try await self.sessions.with { session in
                    try self.refuseShredded(body.customer, session.db)
                    let rows = try self.open(table, columns: columns, customer: body.customer, ids: body.ids, session)
                    try self.note(client, body.customer, "open", Int64(rows.count), session.db)
                    return rows
                }
                self.metrics.opened(rows.reduce(0) { $0 + $1.values.count })
                return try Self.json(OpenResponse(rows: rows))
            }
        }
        router.post("/v1/seal") { request, context in
            let body = try await Self.decode(SealRequest.self, request, route: "seal")
            return try await self.answer("seal", context, right: .seal, customer: body?.customer) { client in
                guard let body else { throw ServeError(status: .unprocessableContent, message: "the body is not a seal request", hint: "send {\"table\", \"column\", \"customer\", \"row\", \"value\"}") }
                let (table, columns) = try self.personalColumns(body.table, [body.column])
                let column = columns[0]
                var plaintext = body.value
                var number: PhoneNumber?
                if table.blindIndexes[column] != nil {
                    guard case .success(let parsed) = PhoneNumber.parse(body.value, defaultRegion: self.policy.defaultRegion, rules: self.policy.phoneRules) else {
                        throw ServeError(status: .unprocessableContent, message: "field value: not a phone number of the policy's rules (\(table.name).\(column.name) holds numbers)",
                                         hint: "send the number as the platform received it", field: "value")
                    }
                    number = parsed
                    plaintext = parsed.e164
                }
                let (value, phone) = (plaintext, number)
                let sealed = try await self.sessions.with { session in
                    try self.refuseShredded(body.customer, session.db)
                    let form = try SealedColumnForm.load(session.db, table)[column] ?? .binary
                    let envelope = try session.vault.seal(Array(value.utf8), EnvelopeContext(table: table.name.description, column: column.name, customer: body.customer), row: body.row)
                    let index = try phone.map { try session.vault.blindIndex.tag($0) }
                    try self.note(client, body.customer, "seal", 1, session.db)
                    return SealResponse(form: form == .text ? "text" : "binary",
                                        envelope: form == .text ? String(decoding: Envelope.textForm(envelope), as: UTF8.self) : Data(envelope).base64EncodedString(),
                                        blindIndexColumn: table.blindIndexes[column]?.name, blindIndex: index.map(Hex.encode))
                }
                self.metrics.sealed(1)
                return try Self.json(sealed)
            }
        }
        return router
    }

    // MARK: Requests and answers

    struct IntakeRequest: Decodable { let customer: Int64; let rows: [[String: String]] }
    struct IntakeResponse: Encodable { let ids: [Int64]; let rows: [BatchIntake.Written] }
    struct LookupRequest: Decodable { let customer: Int64; let phone: String }
    struct LookupResponse: Encodable { let rows: [String: [Int64]] }
    struct OpenRequest: Decodable { let table: String; let customer: Int64; let ids: [Int64]; let columns: [String]? }
    struct OpenedRow: Encodable, Sendable { let id: Int64; let values: [String: String?] }
    struct OpenResponse: Encodable { let rows: [OpenedRow] }
    struct SealRequest: Decodable { let table: String; let column: String; let customer: Int64; let row: Int64; let value: String }
    struct SealResponse: Encodable, Sendable {
        let form: String
        let envelope: String
        let blindIndexColumn: String?
        let blindIndex: String?
    }

    /// The body as `T`; nil when it is not one (the caller answers 422 once the client is known: an undeclared
    /// caller learns nothing, not even that its body was wrong).
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, route: String) async throws -> T? {
        let buffer = try await request.body.collect(upTo: 32 << 20)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(T.self, from: Data(buffer.readableBytesView))
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    struct ErrorBody: Encodable { let error: String; let hint: String; let index: Int?; let field: String? }

    /// Authenticates (401), authorises (403), runs `body`, maps refusals to their status, and counts the request.
    func answer(_ route: String, _ context: ServeContext, right: ServePolicy.Right?, customer: Int64?,
                _ body: (ServePolicy.Client) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now()
        var clientName = "-"
        let response: Response
        do {
            // A TLS caller by its verified certificate's CN, a socket caller by its Unix user.
            let commonName = await context.peerCommonName()
            let known: ServePolicy.Client?
            if let commonName { known = policy.serve.client(certificateCN: commonName) } else { known = await context.peerUID().flatMap(policy.serve.client(uid:)) }
            guard let client = known else {
                throw ServeError(status: .unauthorized, message: "this caller is not a client of lethe serve",
                                 hint: "declare it in the policy: serve: { clients: [ { name, uid (socket) or certificate_cn (TLS), may: [...] } ] }")
            }
            clientName = client.name
            if let right, !client.may.contains(right) {
                throw ServeError(status: .forbidden, message: "client \(client.name) may not \(right.rawValue)", hint: "add \(right.rawValue) to its 'may' in the policy, if it should")
            }
            if let customer, let allowed = client.customers, !allowed.contains(customer) {
                throw ServeError(status: .forbidden, message: "client \(client.name) does not act for customer \(customer)", hint: "its 'customers' in the policy name those it does")
            }
            response = try await body(client)
        } catch let error as ServeError {
            response = try Self.json(ErrorBody(error: error.message, hint: error.hint, index: error.index, field: error.field), status: error.status)
        } catch let problem as BatchIntake.RowProblem {
            response = try Self.json(ErrorBody(error: "row \(problem.index): field \(problem.field): \(problem.reason); nothing was written",
                                               hint: "send exactly the intake's fields, valid; the whole batch is refused", index: problem.index, field: problem.field),
                                     status: .unprocessableContent)
        } catch let error as PostgresError where error.message.contains("no partition of relation") {
            response = try Self.json(ErrorBody(error: "no partition holds these rows' time; nothing was written",
                                               hint: "lethe partitions ensure (the worker keeps partitions ahead)", index: nil, field: nil), status: .serviceUnavailable)
        } catch {
            let lethe = error.asLetheError
            let status: HTTPResponse.Status = switch lethe.code {
            case .noInput: .notFound
            case .dataError, .usage: .unprocessableContent
            case .unavailable, .tempFail: .serviceUnavailable
            default: .internalServerError
            }
            // The caller's mistakes (unknown customer, bad value) are its to fix; only the service's own failures are errors.
            let level: Logger.Level = status.code >= 500 ? .error : .info
            logger.log(level: level, "request refused", metadata: ["event.action": "serve.\(route)", "event.outcome": "failure", "client": "\(clientName)",
                                                                   "http.response.status_code": .stringConvertible(status.code), "error.message": "\(lethe.message)"])
            response = try Self.json(ErrorBody(error: lethe.message, hint: lethe.hint ?? lethe.code.defaultHint, index: nil, field: nil), status: status)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        metrics.record(route: route, client: clientName, status: Int(response.status.code), seconds: seconds)
        return response
    }

    // MARK: Work in a session

    /// A shredded customer is refused everything, from the request after the shred committed, on every instance.
    func refuseShredded(_ customer: Int64, _ db: PostgresConnection) throws {
        if try db.query("SELECT EXISTS (SELECT 1 FROM lethe.customer_keys WHERE customer_id = \(.int(customer)) AND shredded_at IS NOT NULL) AS s").single("shred").bool("s") {
            throw ServeError(status: .forbidden, message: "customer \(customer) was shredded: its data can no longer be written, found or read",
                             hint: "a shred is irreversible; the platform should stop sending this customer's traffic")
        }
    }

    /// The hourly usage count and, at a bucket's first use, its audit record (migration 0024).
    func note(_ client: ServePolicy.Client, _ customer: Int64, _ route: String, _ rows: Int64, _ db: PostgresConnection) throws {
        try db.execute("SELECT lethe.serve_note(\(.text(client.name)), \(.int(customer)), \(.text(route)), \(.int(rows)), \(.text(OperatorIdentity.osUser)))")
    }

    func personalColumns(_ tableName: String, _ names: [String]?) throws -> (TablePolicy, [SQLIdentifier]) {
        guard let table = policy.table(named: tableName) else {
            throw ServeError(status: .unprocessableContent, message: "field table: not a table of the policy", hint: "tables: \(policy.tables.map(\.name.description).joined(separator: ", "))", field: "table")
        }
        guard let names, !names.isEmpty else { return (table, table.personalColumns) }
        let columns = try names.map { name in
            guard let column = table.personalColumns.first(where: { $0.name == name }) else {
                throw ServeError(status: .unprocessableContent, message: "field columns: not a sealed personal column of \(table.name)",
                                 hint: "its sealed columns: \(table.personalColumns.map(\.name).joined(separator: ", "))", field: "columns")
            }
            return column
        }
        return (table, columns)
    }

    func open(_ table: TablePolicy, columns: [SQLIdentifier], customer: Int64, ids: [Int64], _ session: ServeSession) throws -> [OpenedRow] {
        guard let key = CustomerKey.sql(table), !ids.isEmpty else { return [] }
        let forms = try SealedColumnForm.load(session.db, table)
        var select: [SQL] = ["\(table.idColumn)::bigint AS lethe_id"]
        for (index, column) in columns.enumerated() {
            select.append("\((forms[column] ?? .binary).readable("\(column)")) AS \(try SQLIdentifier("lethe_v\(index)"))")
        }
        let rows = try session.db.query("""
            SELECT \(select.joined(separator: ", ")) FROM \(table.name) WHERE \(table.idColumn) = ANY (\(ids)::bigint[]) AND \(key) = \(.int(customer)) ORDER BY 1
            """).rows
        return try rows.map { row in
            let id = try row.int("lethe_id")
            var values: [String: String?] = [:]
            for (index, column) in columns.enumerated() {
                guard let stored = try row.optionalBytes("lethe_v\(index)") else {
                    values[column.name] = .some(nil)
                    continue
                }
                let context = EnvelopeContext(table: table.name.description, column: column.name, customer: customer)
                let opened = try? session.vault.open(stored, context, row: id)
                values[column.name] = opened.map { String(decoding: $0, as: UTF8.self) }
            }
            return OpenedRow(id: id, values: values)
        }
    }
}
