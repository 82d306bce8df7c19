/// The canonical JSON of ledger entries (docs/ledger.md): no whitespace, object keys in byte
/// order, strings escaped minimally (`"` and `\` with a backslash, U+0000–U+001F as `\u00XX` in
/// lowercase hex, everything else as its UTF-8). The history table stores `details` in this form
/// too, and `parseFlatObject` reads it back without Foundation's JSON decoder, which dominates
/// the cost of `log verify` at a million entries otherwise.
public enum CanonicalJSON {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(34)
        // Most strings (digests, times, names) need no escape: one bulk copy.
        if let done = text.utf8.withContiguousStorageIfAvailable({ bytes -> Bool in
            guard !bytes.contains(where: { $0 < 32 || $0 == 34 || $0 == 92 }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }), done {
            out.append(34)
            return
        }
        for byte in text.utf8 {
            switch byte {
            case 34: out += [92, 34]
            case 92: out += [92, 92]
            case 0..<32: out += [92, 117, 48, 48, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]]
            default: out.append(byte)
            }
        }
        out.append(34)
    }

    /// A flat object of strings, keys in byte order.
    public static func appendObject(_ object: [String: String], to out: inout [UInt8]) {
        out.append(123)
        for (index, key) in object.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if index > 0 { out.append(44) }
            appendString(key, to: &out)
            out.append(58)
            appendString(object[key]!, to: &out)
        }
        out.append(125)
    }

    public static func object(_ object: [String: String]) -> String {
        var out = [UInt8]()
        appendObject(object, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses a flat JSON object of strings. Accepts any standard escapes (rows written before
    /// this encoding by Foundation's encoder use `\/`-free sorted output, which this reads too);
    /// returns nil for anything else — nesting, numbers, whitespace, a duplicate key, bad UTF-8 —
    /// so the caller can fall back or report it.
    public static func parseFlatObject(_ text: String) -> [String: String]? {
        var text = text
        return text.withUTF8 { bytes -> [String: String]? in
            var index = 0
            let count = bytes.count
            func string() -> String? {
                guard index < count, bytes[index] == 34 else { return nil }
                index += 1
                let start = index
                // Fast path: no escapes.
                while index < count, bytes[index] != 34, bytes[index] != 92, bytes[index] >= 32 { index += 1 }
                guard index < count else { return nil }
                if bytes[index] == 34 {
                    let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return value
                }
                var out = Array(bytes[start..<index])
                while index < count {
                    let byte = bytes[index]
                    if byte == 34 {
                        index += 1
                        return String(validating: out, as: UTF8.self)
                    }
                    guard byte >= 32 else { return nil }
                    guard byte == 92 else {
                        out.append(byte)
                        index += 1
                        continue
                    }
                    guard index + 1 < count else { return nil }
                    let escape = bytes[index + 1]
                    index += 2
                    switch escape {
                    case 34, 92, 47: out.append(escape)
                    case 98: out.append(8)
                    case 102: out.append(12)
                    case 110: out.append(10)
                    case 114: out.append(13)
                    case 116: out.append(9)
                    case 117:
                        guard index + 4 <= count, let unit = hex4(bytes, index) else { return nil }
                        index += 4
                        var scalarValue = UInt32(unit)
                        if (0xD800..<0xDC00).contains(unit) {
                            guard index + 6 <= count, bytes[index] == 92, bytes[index + 1] == 117,
                                let low = hex4(bytes, index + 2),
                                (0xDC00..<0xE000).contains(low)
                            else { return nil }
                            index += 6
                            scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(scalarValue) else { return nil }
                        out += String(Character(scalar)).utf8
                    default: return nil
                    }
                }
                return nil
            }
            guard count >= 2, bytes[0] == 123 else { return nil }
            index = 1
            var result = [String: String]()
            if bytes[index] == 125 { return index + 1 == count ? result : nil }
            while true {
                guard let key = string(), index < count, bytes[index] == 58 else { return nil }
                index += 1
                guard let value = string(), result.updateValue(value, forKey: key) == nil, index < count else {
                    return nil
                }
                if bytes[index] == 44 {
                    index += 1
                    continue
                }
                guard bytes[index] == 125, index + 1 == count else { return nil }
                return result
            }
        }
    }

    private static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt16? {
        var value: UInt16 = 0
        for offset in 0..<4 {
            let byte = bytes[at + offset]
            let digit: UInt8
            switch byte {
            case 48...57: digit = byte - 48
            case 97...102: digit = byte - 87
            case 65...70: digit = byte - 55
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }
}
