/// The id of a release: the SHA-256 of its canonical manifest bytes.
public struct ReleaseID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let digest: Digest

    public init(_ digest: Digest) { self.digest = digest }

    /// The id of the release whose canonical manifest is `manifestBytes`.
    public init(manifestBytes: [UInt8]) { self.digest = .of(manifestBytes) }

    public var description: String { digest.description }
    public var short: String { digest.short }

    public static func < (lhs: ReleaseID, rhs: ReleaseID) -> Bool { lhs.digest < rhs.digest }

    public init(from decoder: Decoder) throws { digest = try Digest(from: decoder) }
    public func encode(to encoder: Encoder) throws { try digest.encode(to: encoder) }
}
