import LetheCore
import Policy
import Postgres

/// Row ids reserved before the rows are written, so each sealed value can be bound to its row. Taken from the
/// table's own sequence (the one its id column draws from) in blocks, on a second session: the import's own is
/// busy with its COPY. Sequence values are not transactional, so an import that rolls back only leaves a gap.
final class RowIds {
    private let session: PostgresConnection
    private let sequence: String
    private var reserved: [Int64] = []
    private var next = 0
    static let block = 10_000

    init(session: PostgresConnection, table: TablePolicy) throws {
        self.session = session
        guard let sequence = try session.query("SELECT pg_get_serial_sequence(\(.text(table.name.description)), \(.text(table.idColumn.name))) AS s")
            .single("sequence").optionalString("s") else {
            throw LetheError.config("\(table.name).\(table.idColumn.name) does not draw from a sequence of its own",
                                    hint: "import needs one to reserve row ids (serial, identity, or a sequence OWNED BY the column)")
        }
        self.sequence = sequence
    }

    func take() throws -> Int64 {
        if next == reserved.count {
            // One text value rather than 10,000 rows: the client's share of the reservation was most of its cost.
            let list = try session.query("SELECT string_agg(nextval(\(.text(sequence))::regclass)::text, ',') AS ids FROM generate_series(1, \(.int(Int64(Self.block))))").single("ids").string("ids")
            reserved = try list.split(separator: ",").map {
                guard let id = Int64($0) else { throw LetheError.software("unreadable id from \(sequence)") }
                return id
            }
            next = 0
        }
        defer { next += 1 }
        return reserved[next]
    }
}
