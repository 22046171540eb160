import Foundation
import LetheCore
import Postgres
import TestSupport
import Testing
import Yams

/// Issue 31, what to build 1 (the Unix-socket part): `lethe serve` on a throwaway database, driven with
/// `curl --unix-socket` as the platform's API would: intake, lookup, open and seal; 401 for an undeclared caller
/// and 403 beyond a client's rights or customers; 422 naming index and field; a row written through the service is
/// found by `subject export` and erased by `subject erase`; after `customer shred` the service refuses that
/// customer; a kill -9 mid-batch leaves no partial batch; SIGTERM exits 0.
@Suite(.serialized) struct ServeTests {
    struct Service: Sendable {
        let process: RunningLethe
        let socket: String

        /// curl on the socket, as `user` (root only: another Unix user) when given; returns the status and body.
        func call(_ path: String, _ body: String? = nil, as user: String? = nil) throws -> (status: Int, body: String) {
            var arguments = ["curl", "-s", "--unix-socket", socket, "-w", "\n%{http_code}"]
            if let body { arguments += ["-H", "content-type: application/json", "-d", body] }
            arguments.append("http://lethe" + path)
            let argv = user.map { ["/usr/sbin/runuser", "-u", $0, "--"] + arguments } ?? ["/usr/bin/env"] + arguments
            let outcome = try PeerCommand.run(argv[0], Array(argv.dropFirst()))
            let lines = outcome.output.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        func json(_ path: String, _ body: String) throws -> [String: Any] {
            let (status, text) = try call(path, body)
            #expect(status == 200, "\(path): \(status) \(text)")
            return (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
        }
    }

    /// The default policy with a `serve:` block of `clients` (YAML list items, indented as under `clients:`).
    func servePolicy(in directory: String, clients: String) throws -> String {
        let defaults = try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml"), encoding: .utf8)
        let policy = directory + "/serve.yaml"
        try (defaults + "\nserve:\n  clients:\n" + clients).write(toFile: policy, atomically: true, encoding: .utf8)
        return policy
    }

    func start(_ policy: String, _ common: [String], directory: String) throws -> Service {
        let socket = directory + "/lethe.sock"
        let process = try RunningLethe(["serve", "--socket", socket, "--policy", policy] + common)
        for _ in 0..<300 where !FileManager.default.fileExists(atPath: socket) { Thread.sleep(forTimeInterval: 0.02) }
        #expect(FileManager.default.fileExists(atPath: socket), "the service listens")
        return Service(process: process, socket: socket)
    }

    @Test func thePlatformsAPIWritesFindsAndReadsOnlyInSealedForm() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet'), (2, 'Relais')")
        let directory = try IntakeFixture.directory()
        chmod(directory, 0o755)
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", keyring]
        let policy = try servePolicy(in: directory, clients: """
                - name: api
                  uid: \(getuid())
                  may: [intake, seal, lookup, open]
                  customers: [1]
                - name: reports
                  uid: 1
                  may: [lookup]

            """)
        #expect(try LetheProcess.run(["partitions", "ensure", "--policy", policy, "--database-url", db.conninfo]).status == 0)
        let service = try start(policy, common, directory: directory)
        var stopped = false
        defer { if !stopped { service.process.kill(); service.process.wait() } }
        var info = stat()
        #expect(stat(service.socket, &info) == 0 && info.st_mode & 0o777 == 0o660, "the socket is mode 0660")

        let health = try service.call("/healthz")
        #expect(health.status == 200 && health.body.contains("\"status\":\"ok\""), "\(health)")
        let person = IntakeFixture.people[0]
        let written = try service.json("/v1/intake/messages", """
            {"customer": 1, "rows": [{"phone": "\(person.national)", "message": "\(person.message)"}, {"phone": "+33 7 98 76 54 32", "message": "Votre code: 4421"}]}
            """)
        let ids = (written["ids"] as? [NSNumber])?.map(\.int64Value) ?? []
        #expect(ids.count == 2, "\(written)")
        let rows = written["rows"] as? [[String: Any]] ?? []
        #expect(rows.first?["encoding"] as? String == "ucs2" && rows.last?["encoding"] as? String == "gsm7" && rows.first?["segments"] as? Int == 1, "\(rows)")
        let stored = try db.connection.query("""
            SELECT count(*) FILTER (WHERE substring(body FROM 1 FOR 4) = '\\x4c544802'::bytea AND recipient_bidx IS NOT NULL) AS n FROM sms.messages
            WHERE id = ANY (\(.intArray(ids))::bigint[])
            """).single("n").int("n")
        #expect(stored == 2, "sealed and blind-indexed in the database")

        let found = try service.json("/v1/lookup", "{\"customer\": 1, \"phone\": \"\(person.e164)\"}")
        #expect((found["rows"] as? [String: [NSNumber]])?["sms.messages"]?.map(\.int64Value) == [ids[0]], "\(found)")
        let opened = try service.json("/v1/open", "{\"table\": \"sms.messages\", \"customer\": 1, \"ids\": [\(ids[0]), \(ids[1])], \"columns\": [\"body\"]}")
        let bodies = (opened["rows"] as? [[String: Any]] ?? []).compactMap { ($0["values"] as? [String: Any])?["body"] as? String }
        #expect(bodies == [person.message, "Votre code: 4421"], "\(opened)")

        // An application inserting its own row with what /v1/seal gave it: found by lookup like any other.
        let row = try db.connection.query("SELECT nextval('sms.messages_id_seq') AS id").single("id").int("id")
        let recipient = try service.json("/v1/seal", "{\"table\": \"sms.messages\", \"column\": \"recipient\", \"customer\": 1, \"row\": \(row), \"value\": \"06 55 44 33 22\"}")
        let body = try service.json("/v1/seal", "{\"table\": \"sms.messages\", \"column\": \"body\", \"customer\": 1, \"row\": \(row), \"value\": \"posé par l'application\"}")
        #expect(recipient["blind_index_column"] as? String == "recipient_bidx" && body["blind_index"] == nil, "\(recipient) \(body)")
        try db.connection.execute("""
            INSERT INTO sms.messages (id, customer_id, recipient, recipient_bidx, body)
            VALUES (\(row), 1, decode(\(.text(recipient["envelope"] as? String ?? "")), 'base64'), decode(\(.text(recipient["blind_index"] as? String ?? "")), 'hex'),
                    decode(\(.text(body["envelope"] as? String ?? "")), 'base64'))
            """)
        let again = try service.json("/v1/lookup", "{\"customer\": 1, \"phone\": \"+33655443322\"}")
        #expect((again["rows"] as? [String: [NSNumber]])?["sms.messages"]?.map(\.int64Value) == [row], "\(again)")

        // Refusals: 422 naming index and field (never the value), 403 beyond rights or customers, 401 undeclared.
        let unknown = try service.call("/v1/intake/messages", "{\"customer\": 1, \"rows\": [{\"phone\": \"0612345678\", \"message\": \"a\"}, {\"phone\": \"0612345678\", \"message\": \"b\", \"email\": \"someone@example.com\"}]}")
        #expect(unknown.status == 422 && unknown.body.contains("\"index\":1") && unknown.body.contains("\"field\":\"email\"") && !unknown.body.contains("someone@"), "\(unknown)")
        let badPhone = try service.call("/v1/intake/messages", "{\"customer\": 1, \"rows\": [{\"phone\": \"12\", \"message\": \"secret 884213\"}]}")
        #expect(badPhone.status == 422 && badPhone.body.contains("\"field\":\"phone\"") && !badPhone.body.contains("884213"), "\(badPhone)")
        #expect(try service.call("/v1/lookup", "{\"customer\": 2, \"phone\": \"0612345678\"}").status == 403, "api acts for customer 1 only")
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == 3, "refused batches wrote nothing")
        if getuid() == 0 {
            chmod(service.socket, 0o666)
            #expect(try service.call("/v1/open", "{\"table\": \"sms.messages\", \"customer\": 1, \"ids\": [1]}", as: "daemon").status == 403, "reports may only lookup")
            let anonymous = try service.call("/v1/lookup", "{\"customer\": 1, \"phone\": \"0612345678\"}", as: "nobody")
            #expect(anonymous.status == 401 && !anonymous.body.contains("sms.messages"), "\(anonymous)")
            #expect(try service.call("/healthz", as: "nobody").status == 401, "no request is served anonymously")
        }
        let metrics = try service.call("/metrics")
        #expect(metrics.status == 200 && metrics.body.contains("lethe_serve_requests_total{route=\"intake\",client=\"api\",status=\"422\"} 2")
                && metrics.body.contains("lethe_serve_values_opened_total 2") && metrics.body.contains("lethe_serve_request_duration_seconds_bucket{route=\"open\""),
                "\(metrics.body.prefix(1500))")
        for text in [metrics.body] { #expect(!text.contains("612345678") && !text.contains("Rendez-vous")) }
        // One audit record per client, customer, route and hour, with the counts beside it.
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.audit_log WHERE action IN ('serve.open', 'serve.lookup')").single("n").int("n") == 2)
        #expect(try db.connection.query("SELECT requests AS n FROM lethe.serve_usage WHERE route = 'lookup' AND client = 'api'").single("n").int("n") == 2)

        // The rows written through the service are the person's for the DPO too.
        let export = try LetheProcess.run(["subject", "export", "--phone", person.e164, "--out", directory + "/export"] + common)
        #expect(export.stdout.contains("exported 1 row(s)"), "\(export.stdout) \(export.stderr)")
        #expect(try LetheProcess.run(["subject", "erase", "--phone", person.national] + common).status == 0)
        let gone = try service.json("/v1/lookup", "{\"customer\": 1, \"phone\": \"\(person.e164)\"}")
        #expect((gone["rows"] as? [String: Any])?.isEmpty == true, "\(gone)")

        // A kill -9 in the middle of a batch (its COPY waiting on a lock) leaves no partial batch.
        let before = try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n")
        let blocker = try db.newConnection()
        try blocker.execute("BEGIN")
        try blocker.execute("LOCK TABLE sms.messages IN SHARE MODE")
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-s", "--unix-socket", service.socket, "-d", "{\"customer\": 1, \"rows\": [{\"phone\": \"0611111111\", \"message\": \"x\"}, {\"phone\": \"0622222222\", \"message\": \"y\"}]}",
                          "http://lethe/v1/intake/messages"]
        curl.standardOutput = FileHandle.nullDevice
        try curl.run()
        #expect(try KnownPoint.waitForLockWait(blocker, database: db.name, queryContains: "COPY"))
        service.process.kill()
        service.process.wait()
        stopped = true
        try blocker.execute("ROLLBACK")
        curl.waitUntilExit()
        #expect(try db.connection.query("SELECT count(*) AS n FROM sms.messages").single("n").int("n") == before, "no partial batch")

        // Restarted; SIGTERM ends it with exit 0. A shredded customer is refused from the next request on.
        let restarted = try start(policy, common, directory: directory)
        #expect(try LetheProcess.run(["customer", "shred", "--customer", "1", "--yes", "--database-url", db.conninfo]).status == 0)
        let refused = try restarted.call("/v1/lookup", "{\"customer\": 1, \"phone\": \"0612345678\"}")
        #expect(refused.status == 403 && refused.body.contains("shredded"), "\(refused)")
        #expect(try restarted.call("/v1/intake/messages", "{\"customer\": 1, \"rows\": [{\"phone\": \"0611111111\", \"message\": \"x\"}]}").status == 403)
        kill(restarted.process.process.processIdentifier, SIGTERM)
        let ended = restarted.process.wait()
        #expect(ended.status == 0, "\(ended.stderr.suffix(500))")
    }

    /// The service checked against `docs/openapi.yaml`: every documented route answers its example with a documented
    /// status, a 200 body has the documented required properties and types, and an empty body is refused with the
    /// documented error shape.
    @Test func theServiceAnswersAsItsOpenAPIDocumentSays() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet')")
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let policy = try servePolicy(in: directory, clients: "    - name: api\n      uid: \(getuid())\n      may: [intake, seal, lookup, open]\n")
        #expect(try LetheProcess.run(["partitions", "ensure", "--policy", policy, "--database-url", db.conninfo]).status == 0)
        let service = try start(policy, ["--database-url", db.conninfo, "--keyring", keyring], directory: directory)
        defer { service.process.kill(); service.process.wait() }

        let text = try String(contentsOf: LetheProcess.packageRoot.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        let spec = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(spec["paths"] as? [String: [String: Any]])
        #expect(Set(paths.keys) == ["/healthz", "/metrics", "/v1/intake/{name}", "/v1/lookup", "/v1/open", "/v1/seal"], "every route is documented")
        func matches(_ value: Any?, _ schema: [String: Any]) -> Bool {
            switch schema["type"] as? String {
            case "object": return value is [String: Any]
            case "array": return value is [Any]
            case "string": return value is String || (value is NSNull && schema["nullable"] as? Bool == true)
            case "integer": return value is NSNumber
            default: return true
            }
        }
        for (template, operations) in paths.sorted(by: { $0.key < $1.key }) {
            let path = template.replacingOccurrences(of: "{name}", with: "messages")
            for (method, value) in operations {
                let operation = try #require(value as? [String: Any])
                let documented = Set((operation["responses"] as? [String: Any] ?? [:]).keys.compactMap(Int.init))
                let example = ((((operation["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["example"])
                let body = try example.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
                let (status, answer) = try service.call(path, method == "post" ? (body ?? "{}") : nil)
                #expect(documented.contains(status), "\(method.uppercased()) \(path) answered \(status), documented \(documented.sorted()): \(answer.prefix(300))")
                if status == 200, let schema = (((operation["responses"] as? [String: Any])?["200"] as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any],
                   let object = (schema["schema"] as? [String: Any]) {
                    let parsed = try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any]
                    for name in object["required"] as? [String] ?? [] {
                        let property = (object["properties"] as? [String: Any])?[name] as? [String: Any] ?? [:]
                        #expect(matches(parsed?[name], property), "\(path): property \(name) is not as documented: \(answer.prefix(300))")
                    }
                }
                if method == "post" {
                    let (refused, error) = try service.call(path, "{}")
                    let parsed = try? JSONSerialization.jsonObject(with: Data(error.utf8)) as? [String: Any]
                    #expect(documented.contains(refused) && refused == 422 && parsed?["error"] is String && parsed?["hint"] is String,
                            "\(path) with an empty body: \(refused) \(error.prefix(300))")
                }
            }
        }
    }

    /// `lethe worker --serve-socket`: the service in the worker's own swift-service-lifecycle group; SIGTERM stops both,
    /// exit 0.
    @Test func theWorkerServesInItsOwnServiceGroup() throws {
        let db = try TestDatabase()
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let policy = try servePolicy(in: directory, clients: "    - name: api\n      uid: \(getuid())\n      may: [lookup]\n")
        let socket = directory + "/worker.sock"
        let worker = try RunningLethe(["worker", "--serve-socket", socket, "--policy", policy, "--database-url", db.conninfo, "--keyring", keyring])
        for _ in 0..<300 where !FileManager.default.fileExists(atPath: socket) { Thread.sleep(forTimeInterval: 0.02) }
        let service = Service(process: worker, socket: socket)
        let health = try service.call("/healthz")
        #expect(health.status == 200, "\(health)")
        kill(worker.process.processIdentifier, SIGTERM)
        let ended = worker.wait()
        #expect(ended.status == 0, "\(ended.stderr.suffix(800))")
        #expect(ended.stderr.contains("worker stopped") || ended.stderr.contains("worker.stop"), "\(ended.stderr.suffix(800))")
        #expect(try LetheProcess.run(["worker", "--once", "--serve-socket", socket, "--database-url", db.conninfo]).status == 64)
    }

    /// TCP with mutual TLS: a client is known by its certificate's CN; one without a certificate from the client CA
    /// does not get through the handshake; a CA-signed certificate with an undeclared CN gets 401; `--listen` without
    /// client certificates is refused.
    @Test func overTCPOnlyClientsWithACertificateAreServed() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (1, 'Cabinet')")
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        func openssl(_ arguments: [String]) throws {
            let outcome = try PeerCommand.run("/usr/bin/openssl", arguments, in: directory)
            #expect(outcome.status == 0, "openssl \(arguments.joined(separator: " ")): \(outcome.output)")
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ["ca", "rogue"] {
            try openssl(["req", "-x509"] + ec + ["-keyout", "\(ca).key", "-out", "\(ca).pem", "-days", "2", "-subj", "/CN=lethe test \(ca)"])
        }
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: directory + "/san.ext", atomically: true, encoding: .utf8)
        for (name, commonName, ca) in [("server", "localhost", "ca"), ("api", "api.example", "ca"), ("stranger", "stranger.example", "ca"), ("forged", "api.example", "rogue")] {
            try openssl(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(commonName)"])
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-CAcreateserial", "-out", "\(name).pem", "-days", "2"]
                        + (name == "server" ? ["-extfile", "san.ext"] : []))
        }
        let policy = try servePolicy(in: directory, clients: "    - name: api\n      certificate_cn: api.example\n      may: [lookup]\n")
        let common = ["--policy", policy, "--database-url", db.conninfo, "--keyring", keyring]
        let refused = try LetheProcess.run(["serve", "--socket", directory + "/x.sock", "--listen", "127.0.0.1:1"] + common)
        #expect(refused.status == 64 && refused.stderr.contains("never listens on TCP without client certificates"), "\(refused.stderr)")

        let port = 47_000 + Int(getpid() % 1000)
        let process = try RunningLethe(["serve", "--socket", directory + "/lethe.sock", "--listen", "127.0.0.1:\(port)", "--tls-cert", directory + "/server.pem",
                                        "--tls-key", directory + "/server.key", "--client-ca", directory + "/ca.pem"] + common)
        defer { process.kill(); process.wait() }
        func https(_ client: String?, _ path: String, _ body: String? = nil) throws -> (curl: Int32, status: Int, body: String) {
            var arguments = ["curl", "-s", "--cacert", directory + "/ca.pem", "-w", "\n%{http_code}"]
            if let client { arguments += ["--cert", directory + "/\(client).pem", "--key", directory + "/\(client).key"] }
            if let body { arguments += ["-H", "content-type: application/json", "-d", body] }
            let outcome = try PeerCommand.run("/usr/bin/env", arguments + ["https://127.0.0.1:\(port)" + path])
            let lines = outcome.output.split(separator: "\n", omittingEmptySubsequences: false)
            return (outcome.status, Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }
        var up = false
        for _ in 0..<500 where !up {
            up = (try? https("api", "/healthz").status) == 200
            if !up { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect(up, "the TLS listener answers the declared client")
        let lookup = try https("api", "/v1/lookup", "{\"customer\": 1, \"phone\": \"0612345678\"}")
        #expect(lookup.status == 200 && lookup.body.contains("\"rows\""), "the client known by its certificate: \(lookup)")
        #expect(try https("api", "/v1/open", "{\"table\": \"sms.messages\", \"customer\": 1, \"ids\": [1]}").status == 403, "lookup only")
        #expect(try https("stranger", "/healthz").status == 401, "a CA-signed certificate whose CN no client declares")
        let anonymous = try https(nil, "/healthz")
        #expect(anonymous.status == 0 && anonymous.curl != 0, "no client certificate: no TLS session, no answer: \(anonymous)")
        let forged = try https("forged", "/healthz")
        #expect(forged.status == 0 && forged.curl != 0, "the right CN from another CA: refused in the handshake: \(forged)")
    }

    /// Two instances sealing for one customer that has no data key yet (a new month) create one key between them,
    /// and each opens what the other sealed.
    @Test func twoInstancesCreateOneDataKeyBetweenThem() throws {
        let db = try TestDatabase()
        try db.connection.execute("INSERT INTO sms.customers (id, name) VALUES (7, 'Atelier')")
        let directory = try IntakeFixture.directory()
        let keyring = directory + "/keyring"
        #expect(try LetheProcess.run(["keys", "init", "--keyring", keyring]).status == 0)
        let policy = try servePolicy(in: directory, clients: "    - name: api\n      uid: \(getuid())\n      may: [intake, open]\n")
        #expect(try LetheProcess.run(["partitions", "ensure", "--policy", policy, "--database-url", db.conninfo]).status == 0)
        let common = ["--database-url", db.conninfo, "--keyring", keyring]
        try FileManager.default.createDirectory(atPath: directory + "/a", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/b", withIntermediateDirectories: true)
        let first = try start(policy, common, directory: directory + "/a"), second = try start(policy, common, directory: directory + "/b")
        defer { for service in [first, second] { service.process.kill(); service.process.wait() } }
        let ids = Locked<[Int64]>([])
        let group = DispatchGroup()
        for (index, service) in [first, second, first, second, first, second, first, second].enumerated() {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                let answer = try? service.json("/v1/intake/messages", "{\"customer\": 7, \"rows\": [{\"phone\": \"06123400\(10 + index)\", \"message\": \"message \(index)\"}]}")
                ids.withLock { $0 += (answer?["ids"] as? [NSNumber])?.map(\.int64Value) ?? [] }
            }
        }
        group.wait()
        #expect(ids.value.count == 8, "every batch written")
        #expect(try db.connection.query("SELECT count(*) AS n FROM lethe.customer_keys WHERE customer_id = 7 AND shredded_at IS NULL").single("n").int("n") == 1,
                "one data key between the two instances")
        for service in [first, second] {
            let opened = try service.json("/v1/open", "{\"table\": \"sms.messages\", \"customer\": 7, \"ids\": [\(ids.value.map(String.init).joined(separator: ","))], \"columns\": [\"body\"]}")
            let bodies = (opened["rows"] as? [[String: Any]] ?? []).compactMap { ($0["values"] as? [String: Any])?["body"] as? String }
            #expect(bodies.count == 8, "each instance opens what the other sealed: \(opened)")
        }
    }
}
