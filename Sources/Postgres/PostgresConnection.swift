import CLibPQ
import Foundation
import LetheCore

/// One libpq connection. It owns its `PGconn` alone and closes it in `deinit`; it is not Sendable,
/// so a connection is used by one task at a time, as libpq requires.
public final class PostgresConnection {
    private let conn: OpaquePointer
    public let target: ConnectionTarget
    /// What this connection was opened with, for `sibling()` (never printed: it may hold a password).
    private let conninfo: String?
    /// A COPY FROM STDIN left open by `beginCopyIn`.
    private var openCopy: CopyInWriter?

    /// Connects with a `postgresql://` URL or a `key=value` conninfo string; with nil or an empty
    /// string libpq's own defaults apply (`PG*` environment, `.pgpass`, service file), as for psql.
    public init(conninfo: String? = nil) throws {
        let info = conninfo ?? ""
        let password = try Self.password(in: info)
        guard let conn = PQconnectdb(info) else {
            throw LetheError.unavailable("cannot allocate a libpq connection", hint: "the process may be out of memory")
        }
        let target = ConnectionTarget(
            host: Self.text(PQhost(conn)) ?? "(default)", port: Self.text(PQport(conn)) ?? "(default)",
            database: Self.text(PQdb(conn)) ?? "(default)", user: Self.text(PQuser(conn)) ?? "(default)")
        guard PQstatus(conn) == CONNECTION_OK else {
            var reason = Self.text(PQerrorMessage(conn))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown reason"
            if let password, !password.isEmpty { reason = reason.replacingOccurrences(of: password, with: "********") }
            PQfinish(conn)
            throw ConnectionFailure.error(reason, target: target)
        }
        self.conn = conn
        self.target = target
        self.conninfo = conninfo
        PQsetNoticeProcessor(conn, { _, _ in }, nil)  // notices may quote values; Lethe logs its own facts instead
        // JIT off: Lethe's statements are short, and over hundreds of daily partitions the planner's cost estimate
        // passes jit_above_cost, so compiling would take longer than running (measured: a subject lookup went from
        // ~0.1 s to ~0.9 s on 5M messages in ~200 partitions).
        try execute("""
            SELECT set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO', false), set_config('IntervalStyle', 'iso_8601', false),
                   set_config('jit', 'off', false)
            """)
    }

    deinit { PQfinish(conn) }

    /// Validates the string without echoing it, and finds its password (to mask it in libpq's messages).
    private static func password(in conninfo: String) throws(LetheError) -> String? {
        try ChildConnection.options(conninfo).first { $0.0 == "password" }?.1
    }

    static func text(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        let value = String(cString: pointer)
        return value.isEmpty ? nil : value
    }

    static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String? { text(UnsafePointer(pointer)) }

    public var serverVersionNumber: Int { Int(PQserverVersion(conn)) }

    // MARK: Queries

    /// Runs one statement, its interpolated values bound as parameters (`SQL`), and returns its rows.
    @discardableResult
    public func query(_ sql: SQL) throws -> QueryResult {
        let (text, parameters) = sql.rendered
        let result = try withBoundParameters(parameters) { count, values, lengths, formats in
            PQexecParams(conn, text, count, nil, values, lengths, formats, 0)
        }
        defer { PQclear(result) }
        _ = try Self.check(result, connection: conn, expectCopy: false)
        return try Self.collect(result)
    }

    /// Runs one statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: SQL) throws -> Int {
        try query(sql).affectedRows
    }

    /// Runs a script of several statements (simple query protocol, so no bound values): for migrations. A value
    /// interpolated into the script is refused.
    public func executeScript(_ script: SQL) throws {
        let result = PQexec(conn, try Self.unbound(script))
        defer { PQclear(result) }
        _ = try Self.check(result, connection: conn, expectCopy: false)
    }

    /// The text of a statement sent by the simple protocol (scripts, COPY), which binds nothing: an interpolated
    /// value is refused rather than spliced.
    static func unbound(_ sql: SQL) throws -> String {
        let (text, values) = sql.rendered
        guard values.isEmpty else { throw LetheError.software("a script or COPY cannot bind values: \(text.prefix(80))") }
        return text
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isAlive { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// A second session to the same database with the same credentials: for work that must go on while this one
    /// is busy (reserving row ids during a COPY).
    public func sibling() throws -> PostgresConnection { try PostgresConnection(conninfo: conninfo) }

    public var isAlive: Bool { PQstatus(conn) == CONNECTION_OK }

    // MARK: Settings

    /// Sets a run-time parameter for this session (`lock_timeout`, `statement_timeout`, …), value bound.
    public func setParameter(_ name: String, _ value: String, local: Bool = false) throws {
        try execute("SELECT set_config(\(text: name), \(text: value), \(local))")
    }

    public func setLockTimeout(milliseconds: Int, local: Bool = false) throws {
        try setParameter("lock_timeout", "\(milliseconds)ms", local: local)
    }

    public func setStatementTimeout(milliseconds: Int, local: Bool = false) throws {
        try setParameter("statement_timeout", "\(milliseconds)ms", local: local)
    }

    // MARK: libpq plumbing

    private func withBoundParameters(
        _ parameters: [SQLValue],
        _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> OpaquePointer?
    ) throws -> OpaquePointer? {
        var buffers: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        defer { buffers.forEach { $0?.deallocate() } }
        for parameter in parameters {
            let bytes: [UInt8]?
            if case .bytes(let raw) = parameter {
                bytes = raw
                formats.append(1)
            } else {
                bytes = parameter.textForm.map { Array($0.utf8) + [0] }
                formats.append(0)
            }
            guard let bytes else {
                buffers.append(nil)
                lengths.append(0)
                continue
            }
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBufferPointer { source in
                source.withMemoryRebound(to: CChar.self) { buffer.update(from: $0.baseAddress!, count: bytes.count) }
            }
            buffers.append(buffer)
            lengths.append(Int32(bytes.count))
        }
        let values = buffers.map { UnsafePointer($0) }
        return values.withUnsafeBufferPointer { valuePointers in
            lengths.withUnsafeBufferPointer { lengthPointers in
                formats.withUnsafeBufferPointer { formatPointers in
                    body(Int32(parameters.count), valuePointers.baseAddress, lengthPointers.baseAddress, formatPointers.baseAddress)
                }
            }
        }
    }

    /// Throws for a failed result; returns nil when the caller should collect `result` itself.
    private static func check(_ result: OpaquePointer?, connection: OpaquePointer, expectCopy: Bool) throws -> OpaquePointer? {
        guard let result else {
            throw connectionError(connection)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return nil
        case PGRES_COPY_IN, PGRES_COPY_OUT:
            if expectCopy { return nil }
            throw LetheError.software("unexpected COPY state from a plain query")
        default:
            if PQstatus(connection) != CONNECTION_OK { throw connectionError(connection) }
            throw serverError(result)
        }
    }

    static func serverError(_ result: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? { text(PQresultErrorField(result, Int32(code.asciiValue!))) }
        return PostgresError.fromServer(
            sqlState: field("C"), primary: field("M"), hint: field("H"), table: field("t").map { table in
                field("s").map { "\($0).\(table)" } ?? table
            }, column: field("c"), constraint: field("n"), dataType: field("d"))
    }

    static func connectionError(_ connection: OpaquePointer) -> LetheError {
        let reason = text(PQerrorMessage(connection))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "connection lost"
        return .unavailable("lost the connection to PostgreSQL: \(reason)", hint: "the server may have restarted; rerun the command")
    }

    private static func collect(_ result: OpaquePointer?) throws -> QueryResult {
        guard let result else { return QueryResult(columns: [], values: [], affectedRows: 0) }
        let rowCount = Int(PQntuples(result))
        let fieldCount = Int(PQnfields(result))
        let columns = (0..<fieldCount).map { String(cString: PQfname(result, Int32($0))) }
        var values: [[String?]] = []
        values.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var rowValues: [String?] = []
            rowValues.reserveCapacity(fieldCount)
            for field in 0..<fieldCount {
                if PQgetisnull(result, Int32(row), Int32(field)) == 1 {
                    rowValues.append(nil)
                } else {
                    rowValues.append(String(cString: PQgetvalue(result, Int32(row), Int32(field))))
                }
            }
            values.append(rowValues)
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return QueryResult(columns: columns, values: values, affectedRows: affected)
    }

    // MARK: COPY

    /// `COPY … FROM STDIN`: `produce` writes the data through the writer; returns rows copied.
    /// If `produce` throws, the COPY is aborted server-side, so nothing of it is kept.
    @discardableResult
    public func copyIn(_ statement: SQL, _ produce: (CopyInWriter) throws -> Void) throws -> Int {
        let start = PQexec(conn, try Self.unbound(statement))
        defer { PQclear(start) }
        _ = try Self.check(start, connection: conn, expectCopy: true)
        guard PQresultStatus(start) == PGRES_COPY_IN else { throw LetheError.software("statement did not start COPY FROM STDIN") }
        let writer = CopyInWriter(connection: self)
        do {
            try produce(writer)
            try writer.flush()
        } catch {
            _ = PQputCopyEnd(conn, "aborted by lethe")
            drainResults()
            throw error
        }
        guard PQputCopyEnd(conn, nil) == 1 else { throw Self.connectionError(conn) }
        return try finishCopy()
    }

    /// A COPY FROM STDIN left open across calls, for rows that arrive from a stream in pieces (a restore's
    /// script): `beginCopyIn`, then `putCopyLine` per row, then `endCopyIn` (or `abortCopyIn`).
    public func beginCopyIn(_ statement: SQL) throws {
        let start = PQexec(conn, try Self.unbound(statement))
        defer { PQclear(start) }
        _ = try Self.check(start, connection: conn, expectCopy: true)
        guard PQresultStatus(start) == PGRES_COPY_IN else { throw LetheError.software("statement did not start COPY FROM STDIN") }
        openCopy = CopyInWriter(connection: self)
    }

    /// One row in COPY text format, without its line end.
    public func putCopyLine(_ line: ArraySlice<UInt8>) throws {
        guard let openCopy else { throw LetheError.software("no COPY is open") }
        try openCopy.write(line)
        try openCopy.write([0x0A])
    }

    @discardableResult
    public func endCopyIn() throws -> Int {
        guard let writer = openCopy else { throw LetheError.software("no COPY is open") }
        openCopy = nil
        try writer.flush()
        guard PQputCopyEnd(conn, nil) == 1 else { throw Self.connectionError(conn) }
        return try finishCopy()
    }

    public func abortCopyIn() {
        guard openCopy != nil else { return }
        openCopy = nil
        _ = PQputCopyEnd(conn, "aborted by lethe")
        drainResults()
    }

    func putCopyData(_ bytes: [UInt8]) throws {
        let status = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(conn, $0.baseAddress, Int32(buffer.count)) }
        }
        guard status == 1 else { throw Self.connectionError(conn) }
    }

    /// `COPY … TO STDOUT`: `consume` receives each chunk libpq returns (one row per chunk in text format).
    @discardableResult
    public func copyOut(_ statement: SQL, _ consume: ([UInt8]) throws -> Void) throws -> Int {
        let start = PQexec(conn, try Self.unbound(statement))
        defer { PQclear(start) }
        _ = try Self.check(start, connection: conn, expectCopy: true)
        guard PQresultStatus(start) == PGRES_COPY_OUT else { throw LetheError.software("statement did not start COPY TO STDOUT") }
        var consumeError: Error?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(conn, &buffer, 0)
            if length == -1 { break }
            if length == -2 { throw Self.connectionError(conn) }
            if let buffer {
                if consumeError == nil {
                    let chunk = Array(UnsafeRawBufferPointer(start: buffer, count: Int(length)))
                    do { try consume(chunk) } catch { consumeError = error }
                }
                PQfreemem(buffer)
            }
        }
        let rows = try finishCopy()
        if let consumeError { throw consumeError }
        return rows
    }

    private func finishCopy() throws -> Int {
        var rows = 0
        var failure: Error?
        while let result = PQgetResult(conn) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if failure == nil {
                failure = Self.serverError(result)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        return rows
    }

    private func drainResults() {
        while let result = PQgetResult(conn) { PQclear(result) }
    }
}

/// Buffers COPY data and hands it to libpq in large pieces.
public final class CopyInWriter {
    private unowned let connection: PostgresConnection
    private var buffer: [UInt8] = []
    private let flushThreshold = 256 * 1024

    init(connection: PostgresConnection) {
        self.connection = connection
        buffer.reserveCapacity(flushThreshold + 4096)
    }

    public func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= flushThreshold { try flush() }
    }

    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    public func write(_ bytes: ArraySlice<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= flushThreshold { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try connection.putCopyData(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
