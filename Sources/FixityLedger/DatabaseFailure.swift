import FixityCore
import GRDB

/// An SQLite failure, as one line that names the database file. A full disk says so plainly: the
/// transaction was rolled back, so nothing of the command was recorded and re-running it after
/// freeing space is safe. (The store's `StoreError.database` says the same words.)
package struct DatabaseFailure: FixityError, Sendable {
    package let message: String
    package var category: ErrorCategory { .io }
    package var description: String { message }

    package init(_ error: DatabaseError, path: String) {
        message = Self.message(for: error, path: path)
    }

    package static func message(for error: DatabaseError, path: String) -> String {
        let detail = error.message ?? error.description
        if error.resultCode == .SQLITE_FULL {
            return
                "database \(path): \(detail) (no space left on device; nothing was recorded, re-run once space is freed)"
        }
        return "database \(path): \(detail)"
    }
}
