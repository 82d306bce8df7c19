/// A ledger that cannot be read, proved or trusted, or a proof bundle that does not parse; the
/// message names the entry, checkpoint or file it is about.
public struct LedgerError: FixityError, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var category: ErrorCategory { .ledger }
}
