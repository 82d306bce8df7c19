/// What kind of failure an error is: the one thing an edge needs to answer it. The CLI maps a
/// category to its exit code and the `category` of a `--json` error document; a server maps it to
/// an HTTP status. The raw values are that `category` string, which scripts read: never rename one.
public enum ErrorCategory: String, Sendable, CaseIterable {
    /// Input the caller gave is unusable: a missing folder, a bad name, a malformed REF or file.
    case badInput = "bad_input"
    /// Nothing by that name: a release, tag, key, entry or file.
    case notFound = "not_found"
    /// A prefix or name that matches more than one thing.
    case ambiguous
    /// The request contradicts what exists: a tag already naming another release.
    case conflict
    /// Another process holds a lock this needs.
    case locked
    /// Stored bytes do not match their digest, or a stored document is invalid.
    case integrity
    /// A decision, not a failure: policy, state or the arguments forbid it.
    case refused
    /// Keys, signatures or policy fall short.
    case trust
    /// The ledger cannot be read, proved or trusted.
    case ledger
    /// A deploy hook or health check failed.
    case hook
    /// A registry or its protocol failed.
    case registry
    /// The caller lacks a key or the scope for this.
    case unauthorized
    /// The operating system or the database failed.
    case io
    /// An error no layer classified: a bug to report, never a finding.
    case `internal`

    /// The CLI's exit status (DESIGN.md): every error is 2; 1 is reserved for findings of a
    /// checking command and never comes from an error.
    public var exitCode: Int32 { 2 }

    /// The HTTP status a server answers with.
    public var httpStatus: Int {
        switch self {
        case .badInput: 400
        case .unauthorized: 403
        case .notFound: 404
        case .conflict, .ambiguous: 409
        case .locked: 423
        case .refused, .trust, .hook: 422
        case .registry: 502
        case .integrity, .ledger, .io, .internal: 500
        }
    }
}

/// The shape every Fixity error has: a category, and a message that names the path, digest, key
/// or entry it is about. Edges catch this protocol, not each type by name.
public protocol FixityError: Error, CustomStringConvertible {
    var category: ErrorCategory { get }
    /// One line for a person, naming what it is about.
    var message: String { get }
}

extension FixityError {
    public var description: String { message }
}
