import FixityCore
import FixityLedger
import FixityStore
import FixityTesting
import GRDB
import Testing

/// The ledger conformance suite against the SQLite ledger of a real store; PostgreSQL will run
/// the same suite.
@Suite struct LedgerConformanceTests {
    @Test func sqliteLedgerConforms() throws {
        let sandbox = try Sandbox()
        let path = sandbox.store
        _ = try Store.open(at: path)
        try LedgerConformance.run(
            open: { SQLiteLedger(try Store.open(at: path).database) },
            tamper: { seq in
                // An attacker with the database file: drop the guard, rewrite one entry.
                let queue = try DatabaseQueue(path: "\(path)/fixity.db")
                try queue.write { db in
                    try db.execute(sql: "DROP TRIGGER history_no_update")
                    try db.execute(sql: "UPDATE history SET subject = 'forged' WHERE seq = ?", arguments: [seq])
                }
            })
    }
}
