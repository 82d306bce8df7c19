import Crypto
import Foundation

/// A SHA-256 digest: the name of a blob, a manifest or a release.
///
/// Always 32 bytes; spelled `sha256:<64 lowercase hex>` everywhere it leaves the process.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let algorithmPrefix = "sha256:"

    /// Stored as four words so a digest is a cheap value with no heap allocation.
    private let w0, w1, w2, w3: UInt64

    public init<Bytes: Sequence<UInt8>>(bytes: Bytes) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var count = 0
        for byte in bytes {
            precondition(count < 32, "a SHA-256 digest has 32 bytes")
            switch count / 8 {
            case 0: words.0 = words.0 << 8 | UInt64(byte)
            case 1: words.1 = words.1 << 8 | UInt64(byte)
            case 2: words.2 = words.2 << 8 | UInt64(byte)
            default: words.3 = words.3 << 8 | UInt64(byte)
            }
            count += 1
        }
        precondition(count == 32, "a SHA-256 digest has 32 bytes")
        (w0, w1, w2, w3) = words
    }

    public init(_ digest: SHA256.Digest) {
        self.init(bytes: digest)
    }

    /// Parses `sha256:<64 lowercase hex>`; nil for anything else.
    public init?(parsing text: some StringProtocol) {
        guard text.hasPrefix(Self.algorithmPrefix) else { return nil }
        self.init(hex: text.dropFirst(Self.algorithmPrefix.count))
    }

    /// Parses `sha256:<64 lowercase hex>` from raw bytes, without making a String.
    public init?(prefixedHex bytes: ArraySlice<UInt8>) {
        let prefix = Self.algorithmPrefix.utf8
        guard bytes.count == prefix.count + 64, bytes.starts(with: prefix) else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var index = bytes.startIndex + prefix.count
        for word in 0..<4 {
            var value: UInt64 = 0
            for _ in 0..<16 {
                guard let nibble = Hex.value(bytes[index]) else { return nil }
                value = value << 4 | UInt64(nibble)
                index += 1
            }
            switch word {
            case 0: words.0 = value
            case 1: words.1 = value
            case 2: words.2 = value
            default: words.3 = value
            }
        }
        (w0, w1, w2, w3) = words
    }

    /// Parses exactly 64 lowercase hex characters.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        var index = 0
        while index < 64 {
            guard let high = Hex.value(utf8[index]), let low = Hex.value(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.init(bytes: bytes)
    }

    /// SHA-256 of `data`.
    public static func of<Bytes: DataProtocol>(_ data: Bytes) -> Digest {
        Digest(SHA256.hash(data: data))
    }

    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        append(to: &out)
        return out
    }

    /// The four words, most significant first, without an array (this runs once per file).
    private var words: DigestWords { DigestWords(words: (w0, w1, w2, w3)) }

    /// Appends the 32 bytes to `buffer`, without the intermediate array `bytes` makes (binary
    /// indexes write one digest per file).
    public func append(to buffer: inout [UInt8]) {
        for word in words { Swift.withUnsafeBytes(of: word.bigEndian) { buffer.append(contentsOf: $0) } }
    }

    /// Appends `sha256:<64 hex>` as UTF-8 to `buffer` (what `description` spells, without a String).
    public func appendPrefixedHex(to buffer: inout [UInt8]) {
        buffer += Self.algorithmPrefix.utf8
        for word in words {
            for shift in stride(from: 60, through: 0, by: -4) {
                buffer.append(Hex.digit(UInt8(truncatingIfNeeded: word >> UInt64(shift)) & 0x0f))
            }
        }
    }

    /// The digest stored as 32 bytes at `offset` of `raw` (as `append(to:)` writes it).
    public init(rawBytes raw: UnsafeRawBufferPointer, at offset: Int) {
        func word(_ index: Int) -> UInt64 {
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + index * 8, as: UInt64.self))
        }
        (w0, w1, w2, w3) = (word(0), word(1), word(2), word(3))
    }

    /// 64 lowercase hex characters, written straight into the string: link names, object paths
    /// and manifests spell one per file.
    public var hex: String {
        String(unsafeUninitializedCapacity: 64) { buffer in
            var index = 0
            for word in words {
                for shift in stride(from: 60, through: 0, by: -4) {
                    buffer[index] = Hex.digit(UInt8(truncatingIfNeeded: word >> UInt64(shift)) & 0x0f)
                    index += 1
                }
            }
            return 64
        }
    }

    /// `sha256:<hex>`.
    public var description: String { Self.algorithmPrefix + hex }

    /// A short form for logs and human output: the first 12 hex characters.
    public var short: String { String(hex.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }
}

extension Digest: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = Digest(parsing: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a sha256 digest: \(text)")
        }
        self = digest
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A digest's four words, most significant first, iterated without allocating an array.
private struct DigestWords: Sequence, IteratorProtocol {
    let words: (UInt64, UInt64, UInt64, UInt64)
    var index = 0

    init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    mutating func next() -> UInt64? {
        defer { index += 1 }
        switch index {
        case 0: return words.0
        case 1: return words.1
        case 2: return words.2
        case 3: return words.3
        default: return nil
        }
    }
}
