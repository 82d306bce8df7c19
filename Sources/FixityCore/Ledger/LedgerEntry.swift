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

    public init(
        seq: Int64, time: String, actor: String, host: String, action: String, subject: String,
        details: [String: String]
    ) {
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
        func raw(_ text: StaticString) {
            out += UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        }
        raw("{\"action\":"); CanonicalJSON.appendString(action, to: &out)
        raw(",\"actor\":"); CanonicalJSON.appendString(actor, to: &out)
        raw(",\"details\":"); CanonicalJSON.appendObject(details, to: &out)
        raw(",\"host\":"); CanonicalJSON.appendString(host, to: &out)
        raw(",\"seq\":"); out += String(seq).utf8
        raw(",\"subject\":"); CanonicalJSON.appendString(subject, to: &out)
        raw(",\"time\":"); CanonicalJSON.appendString(time, to: &out)
        raw(",\"v\":"); out += String(Self.version).utf8
        out.append(125)
        return out
    }

    public var leafHash: Merkle.Hash { Merkle.leafHash(canonicalBytes()) }
}
