import FixityCore
import FixityLedger
import GRDB

extension Store {
    /// Appends a ledger entry inside the caller's transaction, timed by the store's clock: every
    /// layer records through here, so the row and the entry that backs it commit together and a
    /// test's clock decides every recorded time.
    @discardableResult
    package func record(
        _ db: Database, action: LedgerAction, subject: String, details: [String: String] = [:]
    ) throws -> Int64 {
        try History.append(db, action: action, subject: subject, details: details, at: clock.now())
    }
}

extension Store {
    /// This store's ledger as a `LedgerLog` (each call its own transaction).
    package var ledger: any LedgerLog { SQLiteLedger(database) }
    /// The same ledger with what only SQLite answers (the dashboard's timeline).
    package var sqliteLedger: SQLiteLedger { SQLiteLedger(database) }
}
