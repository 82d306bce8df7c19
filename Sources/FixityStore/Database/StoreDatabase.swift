import FixityCore
import FixityLedger
import Foundation
import GRDB
import Glibc

/// The store's embedded SQLite database: the store's catalog (releases, tags, envelopes,
/// policies) and the ledger's tables; other layers add theirs as a `SchemaPart`.
/// Opened with a busy timeout so concurrent seals wait for each other instead of failing.
enum StoreDatabase {
    static let fileName = "fixity.db"

    static func open(at path: String) throws -> DatabaseQueue {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            // Durable commits: a release recorded is a release that survives power loss.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
        } catch let error as DatabaseError {
            throw StoreError.database(error, path: path)
        }
        try migrate(queue, with: migrator)
        return queue
    }

    /// Runs `migrator` on the database at `queue`. Two processes opening a new store at once
    /// would both see it unmigrated and both create its tables ("table releases already exists":
    /// found by the race tests), so migrations run under an exclusive flock, one process after
    /// the other.
    static func migrate(_ queue: DatabaseQueue, with migrator: DatabaseMigrator) throws {
        let lockPath = queue.path + ".migrate-lock"
        let lockFD = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard lockFD >= 0 else { throw StoreError.system("open", path: lockPath) }
        defer { Glibc.close(lockFD) }
        guard flock(lockFD, LOCK_EX) == 0 else { throw StoreError.system("lock", path: lockPath) }
        do {
            try migrator.migrate(queue)
        } catch let error as DatabaseError {
            throw StoreError.database(error, path: queue.path)
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("store-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE releases (
                        id TEXT NOT NULL,
                        app TEXT NOT NULL,
                        sealed_at TEXT NOT NULL,
                        files INTEGER NOT NULL,
                        bytes INTEGER NOT NULL,
                        PRIMARY KEY (id, app)
                    );
                    CREATE INDEX releases_app ON releases (app, sealed_at);
                    CREATE TABLE tags (
                        app TEXT NOT NULL,
                        version TEXT NOT NULL,
                        release TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        PRIMARY KEY (app, version)
                    );
                    CREATE TRIGGER tags_immutable BEFORE UPDATE ON tags
                        BEGIN SELECT RAISE(ABORT, 'tags are immutable'); END;
                    CREATE TABLE stat_cache (
                        root TEXT NOT NULL,
                        path TEXT NOT NULL,
                        device INTEGER NOT NULL,
                        inode INTEGER NOT NULL,
                        mode INTEGER NOT NULL,
                        size INTEGER NOT NULL,
                        mtime_ns INTEGER NOT NULL,
                        ctime_ns INTEGER NOT NULL,
                        digest TEXT NOT NULL,
                        PRIMARY KEY (root, path)
                    ) WITHOUT ROWID;
                    """)
        }
        // The ledger's tables (FixityLedger owns them): the store records into the ledger.
        LedgerSchema.register(&migrator)
        // The host's root tables are its own part (FixityHost's RootSchema).
        migrator.registerMigration("trust-v1") { db in
            // DSSE envelopes about releases (signatures, provenance, test results), and every
            // policy ever set: the newest row is the one in force.
            try db.execute(
                sql: """
                    CREATE TABLE envelopes (
                        digest TEXT PRIMARY KEY,
                        release TEXT NOT NULL,
                        predicate_type TEXT NOT NULL,
                        key_ids TEXT NOT NULL,
                        envelope TEXT NOT NULL,
                        added_at TEXT NOT NULL
                    );
                    CREATE INDEX envelopes_release ON envelopes (release, added_at);
                    CREATE TABLE policies (
                        seq INTEGER PRIMARY KEY,
                        digest TEXT NOT NULL,
                        text TEXT NOT NULL,
                        set_at TEXT NOT NULL
                    );
                    CREATE TRIGGER policies_append_only BEFORE UPDATE ON policies
                        BEGIN SELECT RAISE(ABORT, 'policies are append-only'); END;
                    """)
        }
        migrator.registerMigration("ledger-truth-v1") { db in
            // Rows that record history are never edited or deleted by Fixity: guard DELETE as
            // well as UPDATE (a deleted and re-inserted tag would otherwise move it). These stop
            // mistakes; an attacker with the database can drop them, which is why every row is
            // also checked against the ledger when it is used and by `log verify`.
            try db.execute(
                sql: """
                    CREATE TRIGGER tags_kept BEFORE DELETE ON tags
                        BEGIN SELECT RAISE(ABORT, 'tags are immutable'); END;
                    CREATE TRIGGER policies_kept BEFORE DELETE ON policies
                        BEGIN SELECT RAISE(ABORT, 'policies are append-only'); END;
                    CREATE TRIGGER envelopes_immutable BEFORE UPDATE ON envelopes
                        BEGIN SELECT RAISE(ABORT, 'envelopes are immutable'); END;
                    CREATE TRIGGER envelopes_kept BEFORE DELETE ON envelopes
                        BEGIN SELECT RAISE(ABORT, 'envelopes are immutable'); END;
                    CREATE TRIGGER releases_kept BEFORE DELETE ON releases
                        BEGIN SELECT RAISE(ABORT, 'releases are never unrecorded'); END;
                    """)
        }
        Store.registerLinkStamps(&migrator)
        migrator.registerMigration("stat-cache-file-v1") { db in
            // The seal stat cache moved to binary files under cache/stat (Seal/StatCache.swift).
            try db.execute(sql: "DROP TABLE IF EXISTS stat_cache")
        }
        return migrator
    }
}

extension DatabaseQueue {
    /// Runs a write transaction, turning SQLite errors into store errors that name the database.
    @discardableResult
    package func storeWrite<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try write(body)
        } catch let error as DatabaseError {
            throw StoreError.database(error, path: path)
        }
    }

    package func storeRead<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try read(body)
        } catch let error as DatabaseError {
            throw StoreError.database(error, path: path)
        }
    }
}

extension StoreError {
    /// An SQLite failure, naming the database file. A full disk says so plainly: the transaction
    /// was rolled back, so nothing of the command was recorded and re-running it after freeing
    /// space is safe.
    static func database(_ error: DatabaseError, path: String) -> StoreError {
        StoreError(.io, DatabaseFailure.message(for: error, path: path), path: path)
    }
}
