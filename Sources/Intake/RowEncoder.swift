import Foundation
import Keys
import LetheCore
import Postgres

/// Turns a valid row into one line of COPY text: sealed personal values and blind index as bytea hex.
struct RowEncoder {
    let target: IntakeTarget
    /// This thread's own: cipher and MAC contexts are not shared between threads.
    let sealer: CustomerSealer
    var customer: Int64 { sealer.customer }
    /// The database clock at the start of the import: the time of rows without sent_at.
    let clock: String

    private static let hexDigits = Array("0123456789abcdef".utf8)

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

    private func context(_ column: String) -> EnvelopeContext {
        EnvelopeContext(table: target.table.name.description, column: column, customer: customer)
    }

    /// One COPY line for `row`, written with id `id` (reserved beforehand), to which its sealed values are bound.
    func line(_ row: RowValidator.ValidRow, id: Int64) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out += Array(String(id).utf8)
        out.append(0x09)
        out += Array(String(customer).utf8)
        out.append(0x09)
        out += Array((row.sentAt.map(Timestamps.isoFractional) ?? clock).utf8)
        out.append(0x09)
        let phone = Array(row.phone.e164.utf8)
        switch target.kind {
        case .messages:
            Self.appendHex(try sealer.seal(phone, context("recipient"), row: id), to: &out)
            out.append(0x09)
            Self.appendHex(try sealer.blindIndex.tag(row.phone), to: &out)
            out.append(0x09)
            Self.appendHex(try sealer.seal(Array((row.message ?? "").utf8), context("body"), row: id), to: &out)
            out.append(0x09)
            out += Array((row.encoding?.alphabet.rawValue ?? "gsm7").utf8)
            out.append(0x09)
            out += Array(String(row.encoding?.segments ?? 1).utf8)
        case .contacts:
            Self.appendHex(try sealer.seal(phone, context("phone"), row: id), to: &out)
            out.append(0x09)
            Self.appendHex(try sealer.blindIndex.tag(row.phone), to: &out)
            out.append(0x09)
            if let name = row.name {
                Self.appendHex(try sealer.seal(Array(name.utf8), context("name"), row: id), to: &out)
            } else {
                out += Array("\\N".utf8)
            }
        }
        out.append(0x0A)
        return out
    }

    /// bytea hex input, with COPY's backslash escaped: `\\x0a1b…`.
    static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        out += [0x5C, 0x5C, 0x78]
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
    }
}
