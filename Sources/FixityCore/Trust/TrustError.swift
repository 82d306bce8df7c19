/// A refusal about keys, signatures or policy: the message names the file, key or digest.
public struct TrustError: FixityError, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var category: ErrorCategory { .trust }
}
