import Foundation

/// Standard base64 (RFC 4648 §4, with padding), strict on decode: DSSE and key files use it.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// Nil for anything that is not canonical padded base64 (no whitespace, no URL alphabet).
    public static func decode(_ text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text), Data(data).base64EncodedString() == text else { return nil }
        return [UInt8](data)
    }

    /// base64url (RFC 4648 §5) without padding, as API keys spell their random bytes.
    public static func encodeURL(_ bytes: [UInt8]) -> String {
        String(
            encode(bytes).replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .trimmingCharacters(in: ["="]))
    }

    /// Nil for anything but canonical unpadded base64url: only the URL alphabet, no padding, no
    /// length that cannot be whole bytes, and zero in the bits past the last byte (so each byte
    /// string has exactly one spelling). Decoded byte by byte: every API request presents a key.
    public static func decodeURL(_ text: String) -> [UInt8]? { decodeURL(Array(text.utf8)) }

    static func decodeURL(_ text: [UInt8]) -> [UInt8]? {
        guard text.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in text {
            guard let value = urlValue(character) else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits must be zero, or a second spelling of the same bytes would be accepted.
        guard accumulator == 0 else { return nil }
        return bytes
    }

    private static func urlValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }
}
