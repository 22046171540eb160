import Audit
import Foundation
import LetheCore
import Postgres

/// `lethe requests`: the register of data-subject requests and their deadlines (one month after receipt,
/// three with a recorded extension). Every change is recorded in the audit log.
public struct RequestRegister {
    let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    public enum Kind: String, Sendable, CaseIterable, Encodable {
        case access, erasure
    }

    public struct Request: Sendable, Encodable {
        public let id: Int64
        public let kind: String
        public let reference: String
        public let receivedAt: Date
        public let dueAt: Date
        public let extended: Bool
        public let closedAt: Date?
        public let overdue: Bool
    }

    private static let columns: SQL = """
        id, kind, reference, received_at, due_at, extended_at IS NOT NULL AS extended, closed_at,
        (closed_at IS NULL AND due_at < now()) AS overdue
        """

    /// Opens a request received at `received` (default now); due one month later.
    public func open(kind: Kind, reference: String, received: Date?) throws -> Request {
        guard !reference.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw LetheError.dataError("--reference must not be empty", hint: "use the DPO's ticket number, never the person's name or number")
        }
        return try db.transaction {
            if let received {
                let future = try db.query("SELECT \(.timestamp(received))::timestamptz > now() + interval '5 minutes' AS future").single("received").bool("future")
                guard !future else { throw LetheError.dataError("--received is in the future") }
            }
            // The register changes only through its functions, which write the audit records (migration 0019).
            let id = try db.query("SELECT lethe.request_open(\(.text(kind.rawValue)), \(.text(reference)), \(received.map { .timestamp($0) } ?? .null)::timestamptz, \(.text(OperatorIdentity.osUser))) AS id")
                .single("request").int("id")
            return try fetch(id)
        }
    }

    /// Extends the deadline to three months after receipt, once, with a reason (GDPR art. 12(3)).
    public func extend(id: Int64, reason: String) throws -> Request {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw LetheError.dataError("--reason must not be empty") }
        return try db.transaction {
            let current = try fetch(id)
            guard current.closedAt == nil else { throw LetheError.dataError("request \(id) is closed") }
            guard !current.extended else { throw LetheError.dataError("request \(id) was already extended", hint: "the deadline can be extended once, to three months") }
            try db.execute("SELECT lethe.request_extend(\(.int(id)), \(.text(reason)), \(.text(OperatorIdentity.osUser)))")
            return try fetch(id)
        }
    }

    /// Closes a request (an export or erasure given --request does it too).
    public func close(id: Int64, by: String = OperatorIdentity.osUser) throws -> Request {
        try db.transaction { try closeInTransaction(id: id, by: by) }
    }

    /// Closes a request inside the caller's transaction, so an export or erasure and its closing commit together.
    func closeInTransaction(id: Int64, by: String = OperatorIdentity.osUser) throws -> Request {
        // No row lock here (the DPO holds no UPDATE): the function closes only an open request, and raises otherwise.
        let current = try fetch(id)
        guard current.closedAt == nil else { throw LetheError.dataError("request \(id) is already closed") }
        try db.execute("SELECT lethe.request_close(\(.int(id)), \(.text(by)))")
        return try fetch(id)
    }

    /// The open request of this kind an export or erasure answers; refused before any work when it is closed,
    /// missing or of the other kind.
    func requireOpen(_ id: Int64, kind: Kind) throws -> Request {
        let request = try fetch(id)
        guard request.closedAt == nil else {
            throw LetheError.dataError("request \(id) is already closed", hint: "open a new request ('lethe requests open') for a new answer")
        }
        guard request.kind == kind.rawValue else {
            throw LetheError.usage("request \(id) is an \(request.kind) request, not an \(kind.rawValue) request",
                                   hint: "'subject export' answers access requests, 'subject erase' erasure requests")
        }
        return request
    }

    public func list(openOnly: Bool = false) throws -> [Request] {
        try db.query("SELECT \(Self.columns) FROM lethe.requests WHERE NOT \(.bool(openOnly)) OR closed_at IS NULL ORDER BY due_at, id")
            .rows.map(Self.decode)
    }

    /// Open requests past their due date.
    public func overdue() throws -> [Request] { try list(openOnly: true).filter(\.overdue) }

    func fetch(_ id: Int64, forUpdate: Bool = false) throws -> Request {
        guard let row = try db.query("SELECT \(Self.columns) FROM lethe.requests WHERE id = \(.int(id)) \(forUpdate ? "FOR UPDATE" : "" as SQL)").first else {
            throw LetheError.noInput("no request \(id)", hint: "see 'lethe requests list'")
        }
        return try Self.decode(row)
    }

    static func decode(_ row: Row) throws -> Request {
        Request(id: try row.int("id"), kind: try row.string("kind"), reference: try row.string("reference"), receivedAt: try row.date("received_at"),
                dueAt: try row.date("due_at"), extended: try row.bool("extended"), closedAt: try row.optionalDate("closed_at"), overdue: try row.bool("overdue"))
    }
}
