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

    /// Nil for anything but canonical unpadded base64url.
    public static func decodeURL(_ text: String) -> [UInt8]? {
        guard text.utf8.allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "=") })
        else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        guard let bytes = decode(standard), encodeURL(bytes) == text else { return nil }
        return bytes
    }
}
