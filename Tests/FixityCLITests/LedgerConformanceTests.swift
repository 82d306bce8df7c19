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
        let passed = try LedgerConformance.run(
            open: { SQLiteLedger(try Store.open(at: path).database) },
            tamper: { seq in
                // An attacker with the database file: drop the guard, rewrite one entry.
                let queue = try DatabaseQueue(path: "\(path)/fixity.db")
                try queue.write { db in
                    try db.execute(sql: "DROP TRIGGER history_no_update")
                    try db.execute(sql: "UPDATE history SET subject = 'forged' WHERE seq = ?", arguments: [seq])
                }
            })
        #expect(passed == LedgerConformance.checks)
        // What the suite left behind: 37 + 4 × 25 entries, and the forged entry 5 found by a
        // handle opened afresh, as `fixity log verify` would open it.
        let ledger = SQLiteLedger(try Store.open(at: path).database)
        #expect(try ledger.size() == 137)
        let verification = try ledger.verify()
        #expect(!verification.ok && verification.firstBadSeq == 5, "\(verification.problems)")
        #expect(try ledger.entry(seq: 5)?.subject == "forged")
    }
}
