import Foundation

/// Decoding of untrusted JSON that refuses what other tools would read differently: an object
/// with the same key twice (Swift's decoder keeps one value, Python's `json` the other, so a
/// statement with two `subject` keys reviewed with one tool would be approved for what the other
/// reads). Keys are compared after unescaping, so `"subject"` and `"\u0073ubject"` are the same.
public enum StrictJSON {
    public struct DuplicateKey: FixityError, Sendable {
        public let key: String
        public let offset: Int
        public var message: String { "duplicate key \"\(key)\" at byte \(offset)" }
        public var category: ErrorCategory { .badInput }
    }

    /// Decodes `bytes` as `type` after checking that no object in it repeats a key.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        let array = Array(bytes)
        try checkNoDuplicateKeys(array)
        return try JSONDecoder().decode(type, from: Data(array))
    }

    /// Throws `DuplicateKey` for the first object that repeats a key. Malformed JSON is left to
    /// the decoder that follows (this scanner only has to be right about well-formed input, and
    /// never crash or loop on anything else).
    public static func checkNoDuplicateKeys(_ bytes: [UInt8]) throws {
        // One set of keys per open object; nil for an open array.
        var stack: [Set<[UInt8]>?] = []
        var expectingKey = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"):
                stack.append([])
                expectingKey = true
                index += 1
            case UInt8(ascii: "["):
                stack.append(nil)
                expectingKey = false
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
                expectingKey = false
                index += 1
            case UInt8(ascii: ","):
                // After a comma inside an object comes a key.
                if let top = stack.last, top != nil { expectingKey = true }
                index += 1
            case UInt8(ascii: "\""):
                let start = index
                guard let (text, end) = string(bytes, from: index) else { return }
                index = end
                if expectingKey, let top = stack.last, var keys = top {
                    guard keys.insert(text).inserted else {
                        throw DuplicateKey(key: String(decoding: text, as: UTF8.self), offset: start)
                    }
                    stack[stack.count - 1] = keys
                    expectingKey = false
                }
            default:
                index += 1
            }
        }
    }

    /// The unescaped bytes of the string starting at `start` (its opening quote) and the index
    /// after its closing quote; nil when it never closes.
    static func string(_ bytes: [UInt8], from start: Int) -> ([UInt8], Int)? {
        var out = [UInt8]()
        var index = start + 1
        var pendingHigh: UInt32?
        func appendScalar(_ value: UInt32) {
            let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                if let high = pendingHigh { appendScalar(high) }
                return (out, index + 1)
            }
            guard byte == UInt8(ascii: "\\"), index + 1 < bytes.count else {
                if let high = pendingHigh { appendScalar(high); pendingHigh = nil }
                out.append(byte)
                index += 1
                continue
            }
            let escape = bytes[index + 1]
            if escape == UInt8(ascii: "u"), index + 6 <= bytes.count,
                let unit = UInt32(String(decoding: bytes[(index + 2)..<(index + 6)], as: UTF8.self), radix: 16)
            {
                index += 6
                if let high = pendingHigh {
                    pendingHigh = nil
                    if (0xDC00...0xDFFF).contains(unit) {
                        appendScalar(0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00))
                        continue
                    }
                    appendScalar(high)
                }
                if (0xD800...0xDBFF).contains(unit) { pendingHigh = unit } else { appendScalar(unit) }
                continue
            }
            if let high = pendingHigh { appendScalar(high); pendingHigh = nil }
            switch escape {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            default: out.append(escape)
            }
            index += 2
        }
        return nil
    }
}
