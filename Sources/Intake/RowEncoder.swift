import Foundation
import Keys
import LetheCore
import Postgres

/// Turns a valid row into one row of COPY data: sealed personal values and the blind index as bytea.
/// A class: as a struct it was copied, with a retain of each of its fields, for every row.
final class RowEncoder {
    let target: IntakeTarget
    /// This thread's own: cipher and MAC contexts are not shared between threads.
    let sealer: CustomerSealer
    let format: CopyFormat

    /// The columns written, in order, with the type each is written for in binary COPY.
    static func columns(_ target: IntakeTarget) -> [(name: SQLIdentifier, type: String)] {
        func named(_ name: String) -> SQLIdentifier { try! SQLIdentifier(name) }  // literals of this file, all valid
        let key = [(target.table.idColumn, "bigint"), (target.customerColumn, "bigint"), (target.timestampColumn, "timestamp with time zone")]
        let index = target.phoneIndexColumn ?? named("_no_blind_index")
        switch target.kind {
        case .messages:
            return key + [(named("recipient"), "bytea"), (index, "bytea"), (named("body"), "bytea"), (named("encoding"), "text"),
                          (named("segments"), "smallint")]
        case .contacts:
            return key + [(named("phone"), "bytea"), (index, "bytea"), (named("name"), "bytea")]
        }
    }

    var copyStatement: SQL {
        let names = Self.columns(target).map { column -> SQL in "\(column.name)" }.joined(separator: ", ")
        return "COPY \(target.table.name) (\(names)) FROM STDIN\(format.copyOption)"
    }

    /// Associated-data prefixes of the target's two sealed columns (recipient and body, or phone and name), made
    /// once: building them per value showed in profiles.
    private let firstPrefix: [UInt8]
    private let secondPrefix: [UInt8]
    /// The database clock at the start of the import: the time of rows without sent_at.
    private let clock: DatabaseClock
    private let fieldCount: Int

    init(target: IntakeTarget, sealer: CustomerSealer, clock: DatabaseClock, format: CopyFormat) {
        self.target = target
        self.sealer = sealer
        self.format = format
        let table = target.table.name.description
        let columns = target.kind == .messages ? ("recipient", "body") : ("phone", "name")
        firstPrefix = sealer.associatedDataPrefix(EnvelopeContext(table: table, column: columns.0, customer: sealer.customer))
        secondPrefix = sealer.associatedDataPrefix(EnvelopeContext(table: table, column: columns.1, customer: sealer.customer))
        self.clock = clock
        fieldCount = Self.columns(target).count
    }

    /// One COPY row for `row`, written with id `id` (reserved beforehand), to which its sealed values are bound.
    func line(_ row: RowValidator.ValidRow, id: Int64) throws -> [UInt8] {
        var tuple = CopyTuple(format, fieldCount: fieldCount)
        tuple.bigint(id)
        tuple.bigint(sealer.customer)
        if let sentAt = row.sentAt { tuple.timestamp(sentAt) } else { tuple.timestamp(clock) }
        try sealed(Array(row.phone.e164.utf8), prefix: firstPrefix, id: id, into: &tuple)
        tuple.bytea(try sealer.blindIndexTag(row.phone))
        switch target.kind {
        case .messages:
            try sealed(Array((row.message ?? "").utf8), prefix: secondPrefix, id: id, into: &tuple)
            tuple.label(row.encoding?.alphabet.rawValue ?? "gsm7")
            tuple.smallint(Int16(row.encoding?.segments ?? 1))  // at most max_segments, which is at most 255
        case .contacts:
            if let name = row.name {
                try sealed(Array(name.utf8), prefix: secondPrefix, id: id, into: &tuple)
            } else {
                tuple.null()
            }
        }
        return tuple.finished()
    }

    /// The value's envelope, sealed straight into the row.
    private func sealed(_ plaintext: [UInt8], prefix: [UInt8], id: Int64, into tuple: inout CopyTuple) throws {
        try tuple.bytea(count: Envelope.sealedSize(plaintext.count)) { try sealer.seal(plaintext, prefix: prefix, row: id, appendingTo: &$0) }
    }
}
