import Foundation
import Keys
import LetheCore
import Postgres

/// Turns a valid row into one line of COPY text: sealed personal values and blind index as bytea hex.
struct RowEncoder {
    let target: IntakeTarget
    /// This thread's own: cipher and MAC contexts are not shared between threads.
    let sealer: CustomerSealer

    var copyStatement: String {
        let table = target.table.name.quoted
        switch target.kind {
        case .messages:
            return "COPY \(table) (\(target.table.idColumn.quoted), \(target.customerColumn.quoted), \(target.timestampColumn.quoted), recipient, \(indexColumn), body, encoding, segments) FROM STDIN"
        case .contacts:
            return "COPY \(table) (\(target.table.idColumn.quoted), \(target.customerColumn.quoted), \(target.timestampColumn.quoted), phone, \(indexColumn), name) FROM STDIN"
        }
    }

    private var indexColumn: String { target.phoneIndexColumn?.quoted ?? "\"_no_blind_index\"" }

    /// Associated-data prefixes of the target's two sealed columns (recipient and body, or phone and name), made
    /// once: building them per value showed in profiles.
    private let firstPrefix: [UInt8]
    private let secondPrefix: [UInt8]
    /// The database clock at the start of the import: the time of rows without sent_at.
    private let clockBytes: [UInt8]
    private let customerBytes: [UInt8]

    init(target: IntakeTarget, sealer: CustomerSealer, clock: String) {
        self.target = target
        self.sealer = sealer
        let table = target.table.name.description
        let columns = target.kind == .messages ? ("recipient", "body") : ("phone", "name")
        firstPrefix = sealer.associatedDataPrefix(EnvelopeContext(table: table, column: columns.0, customer: sealer.customer))
        secondPrefix = sealer.associatedDataPrefix(EnvelopeContext(table: table, column: columns.1, customer: sealer.customer))
        clockBytes = Array(clock.utf8)
        customerBytes = Array(String(sealer.customer).utf8)
    }

    /// One COPY line for `row`, written with id `id` (reserved beforehand), to which its sealed values are bound.
    func line(_ row: RowValidator.ValidRow, id: Int64) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out += Array(String(id).utf8)
        out.append(0x09)
        out += customerBytes
        out.append(0x09)
        if let sentAt = row.sentAt { out += Array(Timestamps.isoFractional(sentAt).utf8) } else { out += clockBytes }
        out.append(0x09)
        let phone = Array(row.phone.e164.utf8)
        switch target.kind {
        case .messages:
            Self.appendHex(try sealer.seal(phone, prefix: firstPrefix, row: id), to: &out)
            out.append(0x09)
            Self.appendHex(try sealer.blindIndexTag(row.phone), to: &out)
            out.append(0x09)
            Self.appendHex(try sealer.seal(Array((row.message ?? "").utf8), prefix: secondPrefix, row: id), to: &out)
            out.append(0x09)
            out += Array((row.encoding?.alphabet.rawValue ?? "gsm7").utf8)
            out.append(0x09)
            out += Array(String(row.encoding?.segments ?? 1).utf8)
        case .contacts:
            Self.appendHex(try sealer.seal(phone, prefix: firstPrefix, row: id), to: &out)
            out.append(0x09)
            Self.appendHex(try sealer.blindIndexTag(row.phone), to: &out)
            out.append(0x09)
            if let name = row.name {
                Self.appendHex(try sealer.seal(Array(name.utf8), prefix: secondPrefix, row: id), to: &out)
            } else {
                out += Array("\\N".utf8)
            }
        }
        out.append(0x0A)
        return out
    }

    /// bytea hex input, with COPY's backslash escaped: `\\x0a1b…`. Written in place: this ran per byte with a
    /// capacity check each, and was the import's hottest function.
    static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        out += [0x5C, 0x5C, 0x78]
        var index = out.count
        out.append(contentsOf: repeatElement(0, count: bytes.count * 2))
        out.withUnsafeMutableBufferPointer { buffer in
            for byte in bytes {
                let high = byte >> 4, low = byte & 0x0F
                buffer[index] = high < 10 ? 0x30 + high : 0x57 + high
                buffer[index + 1] = low < 10 ? 0x30 + low : 0x57 + low
                index += 2
            }
        }
    }
}
