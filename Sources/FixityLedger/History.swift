import FixityCore
import Foundation
import GRDB

/// Append-only history kept in the store's SQLite database, written inside the same transaction
/// as the change it records so neither exists without the other.
package enum History {
    static func registerIndex(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("history-v2-index") { db in
            try db.execute(sql: "CREATE INDEX history_action_subject ON history (action, subject, seq)")
        }
    }

    static func registerTable(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("history-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE history (
                        seq INTEGER PRIMARY KEY,
                        time TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        host TEXT NOT NULL,
                        action TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        details TEXT NOT NULL
                    );
                    CREATE TRIGGER history_no_update BEFORE UPDATE ON history
                        BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
                    CREATE TRIGGER history_no_delete BEFORE DELETE ON history
                        BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
                    """)
        }
    }

    @discardableResult
    package static func append(
        _ db: Database, action: LedgerAction, subject: String, details: [String: String] = [:], at time: Date
    ) throws -> Int64 {
        // seq is the rowid: MAX is one b-tree descent. Statements are cached per connection,
        // so a batch of appends compiles them once.
        let next = try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(seq) + 1, 0) FROM history")) ?? 0
        let entry = LedgerEntry(
            seq: next, time: Instant(time).description, actor: Identity.user, host: Identity.host,
            action: action.rawValue,
            subject: subject, details: details)
        try db.cachedStatement(
            sql: "INSERT INTO history (seq, time, actor, host, action, subject, details) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        .execute(arguments: [
            next, entry.time, entry.actor, entry.host, action.rawValue, subject, CanonicalJSON.object(details),
        ])
        // The entry's leaf and the subtrees it completes, in the same transaction.
        try Ledger.appendNodes(db, entry: entry)
        return next
    }

    package static func events(_ db: Database, since: Int64 = 0) throws -> [LedgerEntry] {
        try Row.fetchAll(db, sql: "SELECT * FROM history WHERE seq >= ? ORDER BY seq", arguments: [since]).map(
            entry(from:))
    }

    /// Every entry with one of these actions (and this subject, when given), in sequence order,
    /// through the (action, subject) index.
    package static func entries(_ db: Database, actions: Set<LedgerAction>, subject: String? = nil) throws
        -> [LedgerEntry]
    {
        guard !actions.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: actions.count).joined(separator: ", ")
        var arguments = StatementArguments(actions.map(\.rawValue).sorted())
        var sql = "SELECT * FROM history WHERE action IN (\(marks))"
        if let subject {
            sql += " AND subject = ?"
            arguments += [subject]
        }
        return try Row.fetchAll(db, sql: sql + " ORDER BY seq", arguments: arguments).map(entry(from:))
    }

    /// The newest entry with this action, nil when there is none.
    package static func newest(_ db: Database, action: LedgerAction) throws -> LedgerEntry? {
        try Row.fetchOne(
            db, sql: "SELECT * FROM history WHERE action = ? ORDER BY seq DESC LIMIT 1", arguments: [action.rawValue]
        ).map(entry(from:))
    }

    /// The time of entry 0, nil for an empty history.
    package static func firstTime(_ db: Database) throws -> String? {
        try String.fetchOne(db, sql: "SELECT time FROM history ORDER BY seq LIMIT 1")
    }

    /// The newest entry with this action and subject that satisfies `matching`, scanning back
    /// through the index (action, subject) rather than the whole history.
    package static func latest(
        _ db: Database, action: LedgerAction, subject: String, matching: (LedgerEntry) -> Bool
    ) throws
        -> LedgerEntry?
    {
        let cursor = try Row.fetchCursor(
            db, sql: "SELECT * FROM history WHERE action = ? AND subject = ? ORDER BY seq DESC",
            arguments: [action.rawValue, subject])
        while let row = try cursor.next() {
            let event = entry(from: row)
            if matching(event) { return event }
        }
        return nil
    }

    /// The ledger entry a row holds (its canonical bytes are recomputed from the columns, so an
    /// edited row no longer matches its leaf).
    static func entry(from row: Row) -> LedgerEntry {
        entry(
            seq: row["seq"], time: row["time"], actor: row["actor"], host: row["host"], action: row["action"],
            subject: row["subject"], detailsJSON: row["details"])
    }

    /// The columns of an entry in the order `entry(byPosition:)` reads them.
    package static let entryColumns = "seq, time, actor, host, action, subject, details"

    /// An entry from a row of `SELECT \(entryColumns)`: by position, no column-name lookups
    /// (verify reads a million of them).
    static func entry(byPosition row: Row) -> LedgerEntry {
        entry(
            seq: row[0], time: row[1], actor: row[2], host: row[3], action: row[4], subject: row[5], detailsJSON: row[6]
        )
    }

    /// An entry from its stored columns (any database's): details as canonical JSON text.
    package static func entry(
        seq: Int64, time: String, actor: String, host: String, action: String, subject: String, detailsJSON: String
    ) -> LedgerEntry {
        // Unparseable details are kept visible (and then fail their leaf hash) rather than dropped.
        let details =
            CanonicalJSON.parseFlatObject(detailsJSON)
            ?? (try? JSONDecoder().decode([String: String].self, from: Data(detailsJSON.utf8))) ?? [
                "<unparseable details>": detailsJSON
            ]
        return LedgerEntry(
            seq: seq, time: time, actor: actor, host: host, action: action, subject: subject, details: details)
    }
}
