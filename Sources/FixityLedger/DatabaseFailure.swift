import FixityCore
import GRDB

/// An SQLite failure, as one line that names the database file. A full disk says so plainly: the
/// transaction was rolled back, so nothing of the command was recorded and re-running it after
/// freeing space is safe. (The store's `StoreError.database` says the same words.)
public struct DatabaseFailure: FixityError, Sendable {
    public let message: String
    public var category: ErrorCategory { .io }
    public var description: String { message }

    public init(_ error: DatabaseError, path: String) {
        message = Self.message(for: error, path: path)
    }

    public static func message(for error: DatabaseError, path: String) -> String {
        let detail = error.message ?? error.description
        if error.resultCode == .SQLITE_FULL {
            return
                "database \(path): \(detail) (no space left on device; nothing was recorded, re-run once space is freed)"
        }
        return "database \(path): \(detail)"
    }
}
