import Foundation

/// Writes JSON-shaped values (String, Bool, Int, Int64, Double, NSNumber, NSNull, arrays and string-keyed
/// dictionaries of them) as pretty-printed JSON with sorted keys. Exports use it instead of JSONSerialization,
/// whose dynamic casts cost about as much as the rest of a subject export together.
public enum JSONWriter {
    public static func pretty(_ value: Any) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(value, indent: 0, pretty: true, to: &out)
        out.append(0x0A)
        return out
    }

    /// One line, no spaces (a row of a streamed export).
    public static func compact(_ value: Any) -> [UInt8] {
        var out: [UInt8] = []
        write(value, indent: 0, pretty: false, to: &out)
        return out
    }

    private static func write(_ value: Any, indent: Int, pretty: Bool, to out: inout [UInt8]) {
        // Collections first, natives by exact type, NSNumber last: a failed cast of a collection to a bridgeable
        // type (Bool, NSNumber) converts it to a Foundation object first, which is slow.
        if let object = value as? [String: Any] {
            guard !object.isEmpty else { return out += Array("{}".utf8) }
            out.append(0x7B)
            for (index, key) in object.keys.sorted().enumerated() {
                if index > 0 { out.append(0x2C) }
                newline(indent + 1, pretty, &out)
                string(key, to: &out)
                out += pretty ? Array(" : ".utf8) : [0x3A]
                write(object[key]!, indent: indent + 1, pretty: pretty, to: &out)
            }
            newline(indent, pretty, &out)
            out.append(0x7D)
        } else if let array = value as? [Any] {
            guard !array.isEmpty else { return out += Array("[]".utf8) }
            out.append(0x5B)
            for (index, element) in array.enumerated() {
                if index > 0 { out.append(0x2C) }
                newline(indent + 1, pretty, &out)
                write(element, indent: indent + 1, pretty: pretty, to: &out)
            }
            newline(indent, pretty, &out)
            out.append(0x5D)
        } else if let text = value as? String {
            string(text, to: &out)
        } else if value is NSNull {
            out += Array("null".utf8)
        } else if type(of: value) == Bool.self {
            out += Array((value as! Bool ? "true" : "false").utf8)
        } else if type(of: value) == Int.self {
            out += Array(String(value as! Int).utf8)
        } else if type(of: value) == Int64.self {
            out += Array(String(value as! Int64).utf8)
        } else if type(of: value) == Double.self {
            let number = value as! Double
            out += Array((number.isFinite ? "\(number)" : "null").utf8)
        } else if let number = value as? NSNumber {
            switch String(cString: number.objCType) {
            case "c", "B": out += Array((number.boolValue ? "true" : "false").utf8)
            case "d", "f": out += Array((number.doubleValue.isFinite ? "\(number.doubleValue)" : "null").utf8)
            default: out += Array(String(number.int64Value).utf8)
            }
        } else {
            string(String(describing: value), to: &out)
        }
    }

    private static func newline(_ indent: Int, _ pretty: Bool, _ out: inout [UInt8]) {
        guard pretty else { return }
        out.append(0x0A)
        out += [UInt8](repeating: 0x20, count: indent * 2)
    }

    private static func string(_ text: String, to out: inout [UInt8]) {
        out.append(0x22)
        for byte in text.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }
}
