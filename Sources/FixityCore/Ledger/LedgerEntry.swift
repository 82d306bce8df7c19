/// One ledger entry, and its canonical bytes: the leaf of the Merkle tree is
/// `SHA-256(0x00 || canonicalBytes)` (docs/ledger.md).
///
/// The encoding is JSON with no insignificant whitespace and keys in byte order —
/// `action, actor, details, host, seq, subject, time, v` — `details` a flat object of strings with
/// its keys in byte order, `seq` and `v` decimal integers, strings escaped minimally: `"` and `\`
/// with a backslash, U+0000–U+001F as `\u00XX` (lowercase hex), everything else as its UTF-8.
public struct LedgerEntry: Sendable, Equatable, Codable {
    public static let version = 1
    public let seq: Int64
    /// RFC 3339 UTC with nanoseconds.
    public let time: String
    public let actor: String
    public let host: String
    public let action: String
    public let subject: String
    public let details: [String: String]

    public init(seq: Int64, time: String, actor: String, host: String, action: String, subject: String, details: [String: String]) {
        self.seq = seq
        self.time = time
        self.actor = actor
        self.host = host
        self.action = action
        self.subject = subject
        self.details = details
    }

    public func canonicalBytes() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(256)
        func raw(_ text: String) { out += text.utf8 }
        func string(_ text: String) {
            out.append(34)
            for byte in text.utf8 {
                switch byte {
                case 34: out += [92, 34]
                case 92: out += [92, 92]
                case 0..<32:
                    let hex = Array("0123456789abcdef".utf8)
                    out += [92, 117, 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
                default: out.append(byte)
                }
            }
            out.append(34)
        }
        raw("{\"action\":"); string(action)
        raw(",\"actor\":"); string(actor)
        raw(",\"details\":{")
        for (index, key) in details.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if index > 0 { raw(",") }
            string(key)
            raw(":")
            string(details[key]!)
        }
        raw("},\"host\":"); string(host)
        raw(",\"seq\":\(seq)")
        raw(",\"subject\":"); string(subject)
        raw(",\"time\":"); string(time)
        raw(",\"v\":\(Self.version)}")
        return out
    }

    public var leafHash: Merkle.Hash { Merkle.leafHash(canonicalBytes()) }
}
