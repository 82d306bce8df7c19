import FixityCore
import FixityLedger
import FixityServer
import FixityTesting
import Foundation
import Testing

/// A PostgreSQL database for one test, on the server `FIXITY_TEST_POSTGRES` names
/// (`scripts/test` starts a throwaway cluster on a loopback port and sets it). Outside CI
/// without PostgreSQL the suite is skipped, saying so; under `CI=true` it must run.
enum TestPostgres {
    static let url = ProcessInfo.processInfo.environment["FIXITY_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
    static var enabled: Bool { url != nil || required }

    /// A new, empty database; its URL.
    static func freshDatabase() throws -> PostgresURL {
        let text = try #require(
            url, "FIXITY_TEST_POSTGRES is not set: run the tests through scripts/test, which starts PostgreSQL")
        let admin = try PostgresURL(text)
        let name = "fixity_test_\(UInt32.random(in: 0...UInt32.max))"
        try PostgresSession(admin).read { try $0.run("CREATE DATABASE \(name)") }
        return try PostgresURL("postgres://\(admin.user)@\(admin.host):\(admin.port)/\(name)")
    }
}

@Suite(
    .enabled(
        if: TestPostgres.enabled,
        "PostgreSQL is not available: set FIXITY_TEST_POSTGRES, or run scripts/test as root with Debian's postgresql installed"
    ))
struct PostgresLedgerTests {
    /// The same conformance suite as the SQLite ledger: dense appends, RFC 6962 roots and
    /// proofs, refusals, checkpoints, four writers on four connections never forking the tree,
    /// and an entry rewritten behind the ledger's back found at its own sequence number.
    @Test func postgresLedgerConforms() throws {
        let url = try TestPostgres.freshDatabase()
        let passed = try LedgerConformance.run(
            open: { try PostgresLedger(session: try PostgresSession(url)) },
            tamper: { seq in
                // An attacker with the database's credentials: switch the guard off, rewrite one entry.
                try PostgresSession(url).read { query in
                    try query.run("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
                    try query.run("UPDATE ledger_entries SET subject = 'forged' WHERE seq = \(seq)")
                }
            })
        #expect(passed == LedgerConformance.checks)
        let ledger = try PostgresLedger(session: try PostgresSession(url))
        #expect(try ledger.size() == 137)
        let verification = try ledger.verify()
        #expect(!verification.ok && verification.firstBadSeq == 5, "\(verification.problems)")
        #expect(try ledger.entry(seq: 5)?.subject == "forged")
    }

    /// The guard itself: an UPDATE or DELETE of an entry or node is refused by the database.
    @Test func theTablesRefuseEditsAndDeletes() throws {
        let url = try TestPostgres.freshDatabase()
        let ledger = try PostgresLedger(session: try PostgresSession(url))
        try ledger.append(action: .seal, subject: "s", details: ["a": "b"], at: Date())
        for statement in [
            "UPDATE ledger_entries SET subject = 'x'", "DELETE FROM ledger_entries", "DELETE FROM ledger_nodes",
        ] {
            #expect(throws: PostgresFailure.self) { try PostgresSession(url).read { try $0.run(statement) } }
        }
        #expect(try ledger.verify().ok)
        // A bad URL is refused before anything connects, naming the shape it wants.
        #expect(throws: PostgresFailure.self) { try PostgresURL("mysql://x@y/z") }
    }
}
