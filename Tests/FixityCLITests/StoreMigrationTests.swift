import Foundation
import GRDB
import Testing

/// A store made before the link stamps left SQLite: its `link_stamps` table (with rows) and no
/// `link-stamps-file-v1` migration. Opening it with this version migrates it in place — the table
/// is dropped (stamps are a cache: the next hardlink deploy re-hashes its sources once) — and
/// everything else in it stays as it was.
@Suite struct StoreMigrationTests {
    @Test func aStoreWithLinkStampRowsIsMigratedInPlace() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root", "--link", "hardlink").status == 0)
        // Turn it into the old layout: the table and a row, the migration not yet applied.
        let queue = try DatabaseQueue(path: "\(sandbox.store)/fixity.db")
        try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE link_stamps (
                        source TEXT PRIMARY KEY, inode INTEGER NOT NULL, size INTEGER NOT NULL,
                        mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    INSERT INTO link_stamps VALUES ('0644/ab/cd', 1, 2, 3, 4);
                    DELETE FROM grdb_migrations WHERE identifier = 'link-stamps-file-v1';
                    """)
        }
        try sandbox.sh("rm -f store/cache/link-stamps")
        let releases = try sandbox.fixity("releases", "--json")
        #expect(releases.status == 0, "\(releases.stderr)")
        let tables = try queue.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'link_stamps'")
        }
        #expect(tables.isEmpty, "the old table is still there")
        let migrated = try queue.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM grdb_migrations WHERE identifier = 'link-stamps-file-v1'") ?? false
        }
        #expect(migrated)
        // The migrated store deploys by hardlink again, and the ledger still verifies.
        let deploy = try sandbox.fixity("deploy", "app@1", "--root", "root2", "--link", "hardlink", "--json")
        #expect(deploy.status == 0, "\(deploy.stderr)")
        #expect(try sandbox.fixity("log", "verify").status == 0)
        #expect(try sandbox.fixity("fsck").status == 0)
    }

    /// Each target owns its tables: a store that has only sealed has no root tables (the store
    /// does not create the host's), `log verify` works on a store that never had them, the first
    /// deploy creates them, and a store whose parts are all applied applies nothing again. (A
    /// store made before the split has the same identifiers applied in another order; GRDB skips
    /// applied identifiers whatever their order, which `aStoreWithLinkStampRowsIsMigratedInPlace`
    /// relies on too.)
    @Test func rootTablesBelongToTheHostAndAppearOnFirstUse() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        let queue = try DatabaseQueue(path: "\(sandbox.store)/fixity.db")
        func tables() throws -> Set<String> {
            Set(try queue.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") })
        }
        func migrations() throws -> [String] {
            try queue.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid") }
        }
        #expect(try tables().isSuperset(of: ["releases", "tags", "envelopes", "policies", "history", "ledger_nodes"]))
        #expect(try tables().isDisjoint(with: ["root_deployments", "root_bindings"]), "the store made host tables")
        let verify = try sandbox.fixity("log", "verify")
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root", "--env", "staging").status == 0)
        #expect(try tables().isSuperset(of: ["root_deployments", "root_bindings"]))
        #expect(try migrations().suffix(3) == ["roots-v1", "roots-v2", "roots-v3"])
        let before = try migrations()
        #expect(try sandbox.fixity("status", "--root", "root").status == 0)
        #expect(try migrations() == before, "a migrated store is migrated again")
    }
}
