import Postgres
import Foundation
import LetheCore

/// One row of COPY data, field after field, in the stream's format: tab-separated text with bytea as `\\x` hex,
/// or binary (a field count, then each field as a 32-bit length and its bytes).
struct CopyTuple {
    private(set) var bytes: [UInt8] = []
    private let binary: Bool
    private var fields = 0

    init(_ format: CopyFormat, fieldCount: Int) {
        bytes.reserveCapacity(512)
        binary = format == .binary
        if binary { appendBigEndian(UInt16(fieldCount)) }
    }

    mutating func bigint(_ value: Int64) { integer(value) }

    mutating func smallint(_ value: Int16) { integer(value) }

    /// In binary, a signed integer is its two's complement, big-endian, in the column type's width.
    private mutating func integer<T: FixedWidthInteger & SignedInteger>(_ value: T) {
        separate()
        if binary {
            appendBigEndian(UInt32(MemoryLayout<T>.size))
            appendBigEndian(value)
        } else {
            bytes += Array(String(value).utf8)
        }
    }

    /// A send time, to the millisecond as `Timestamps.isoFractional` writes it, in both formats.
    mutating func timestamp(_ date: Date) {
        if binary {
            timestamp(microseconds: (Timestamps.milliseconds(date) - Self.postgresEpoch * 1000) * 1000)
        } else {
            separate()
            bytes += Array(Timestamps.isoFractional(date).utf8)
        }
    }

    mutating func timestamp(_ clock: DatabaseClock) {
        if binary {
            timestamp(microseconds: clock.microseconds)
        } else {
            separate()
            bytes += Array(clock.text.utf8)
        }
    }

    private mutating func timestamp(microseconds: Int64) {
        separate()
        appendBigEndian(UInt32(8))
        appendBigEndian(UInt64(bitPattern: microseconds))
    }

    mutating func bytea(_ value: [UInt8]) {
        separate()
        if binary {
            appendBigEndian(UInt32(value.count))
            bytes += value
        } else {
            appendHex(value)
        }
    }

    /// A bytea value of `count` bytes that `write` appends: in binary straight into the row, in text through hex.
    mutating func bytea(count: Int, _ write: (inout [UInt8]) throws -> Void) throws {
        separate()
        guard binary else {
            var value: [UInt8] = []
            value.reserveCapacity(count)
            try write(&value)
            appendHex(value)
            return
        }
        appendBigEndian(UInt32(count))
        let start = bytes.count
        try write(&bytes)
        guard bytes.count - start == count else { throw LetheError.software("a COPY value was \(bytes.count - start) bytes, not \(count)") }
    }

    /// A plain text value made of letters and digits only (a label such as `gsm7`): nothing to escape in COPY text.
    mutating func label(_ value: String) {
        separate()
        let utf8 = Array(value.utf8)
        assert(utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) })
        if binary { appendBigEndian(UInt32(utf8.count)) }
        bytes += utf8
    }

    mutating func null() {
        separate()
        if binary { bytes += [0xFF, 0xFF, 0xFF, 0xFF] } else { bytes += [0x5C, 0x4E] }  // length -1, or \N
    }

    /// The row's bytes, with text's line end.
    consuming func finished() -> [UInt8] {
        if !binary { bytes.append(0x0A) }
        return bytes
    }

    /// Seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 UTC.
    private static let postgresEpoch: Int64 = 946_684_800

    private mutating func separate() {
        if !binary && fields > 0 { bytes.append(0x09) }
        fields += 1
    }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// bytea hex input, with COPY's backslash escaped: `\\x0a1b…`. Written in place: this ran per byte with a
    /// capacity check each, and was the text import's hottest function.
    private mutating func appendHex(_ value: [UInt8]) {
        bytes += [0x5C, 0x5C, 0x78]
        var index = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: value.count * 2))
        bytes.withUnsafeMutableBufferPointer { buffer in
            for byte in value {
                let high = byte >> 4, low = byte & 0x0F
                buffer[index] = high < 10 ? 0x30 + high : 0x57 + high
                buffer[index + 1] = low < 10 ? 0x30 + low : 0x57 + low
                index += 2
            }
        }
    }
}
