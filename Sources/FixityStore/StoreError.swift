import FixityCore
import Glibc

/// Every failure of the store layer: a code that decides the exit status at the edge, a message
/// naming what it is about, the path when there is one, and the OS error underneath.
package struct StoreError: FixityError, Sendable {
    package enum Code: Sendable, Equatable {
        /// Input the user gave is unusable: missing folder, special file, bad name, bad REF.
        case badInput
        /// An object's bytes do not match its name, or a stored manifest is invalid.
        case integrity
        case notFound
        /// A REF prefix names more than one release.
        case ambiguous
        /// A tag already names another release.
        case conflict
        /// A lock is held by someone else.
        case locked
        case io
        /// A decision, not a failure: what was asked would do harm here.
        case refused
        /// A caller broke an object's contract (a bug, never the user's input).
        case `internal`
    }

    package let code: Code
    package let message: String
    package let path: String?
    package let errno: Int32?

    package init(_ code: Code, _ message: String, path: String? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
    }

    /// A failed system call on `path`, with the OS's own words for why.
    package static func system(_ call: String, path: String, errno: Int32 = Glibc.errno, code: Code = .io) -> StoreError
    {
        StoreError(code, "\(call) \(path): \(String(cString: strerror(errno)))", path: path, errno: errno)
    }

    package var category: ErrorCategory {
        switch code {
        case .badInput: .badInput
        case .integrity: .integrity
        case .notFound: .notFound
        case .ambiguous: .ambiguous
        case .conflict: .conflict
        case .locked: .locked
        case .io: .io
        case .refused: .refused
        case .internal: .internal
        }
    }
}
