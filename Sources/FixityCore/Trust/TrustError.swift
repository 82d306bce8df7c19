/// A refusal about keys, signatures or policy: the message names the file, key or digest.
public struct TrustError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
