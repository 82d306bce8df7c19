import Foundation

/// Standard base64 (RFC 4648 §4, with padding), strict on decode: DSSE and key files use it.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// Nil for anything that is not canonical padded base64 (no whitespace, no URL alphabet).
    public static func decode(_ text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text), Data(data).base64EncodedString() == text else { return nil }
        return [UInt8](data)
    }
}
