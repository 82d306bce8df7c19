import FixityCore
import FixityLedger
import Foundation
import GRDB
import Glibc

/// The store's embedded SQLite database: releases, tags, the stat cache and the history.
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
            // Two processes opening a new store at once would both see it unmigrated and both
            // create its tables ("table releases already exists": found by the race tests).
            // The migrations run under an exclusive flock instead, one process after the other.
            let lockPath = path + ".migrate-lock"
            let lockFD = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard lockFD >= 0 else { throw StoreError.system("open", path: lockPath) }
            defer { Glibc.close(lockFD) }
            guard flock(lockFD, LOCK_EX) == 0 else { throw StoreError.system("lock", path: lockPath) }
            try migrator.migrate(queue)
        } catch let error as DatabaseError {
            throw StoreError.database(error, path: path)
        }
        return queue
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
        History.registerMigrations(&migrator)
        migrator.registerMigration("roots-v1") { db in
            // Per deploy root (keyed by its realpath): every deployment it has seen, in order.
            try db.execute(
                sql: """
                    CREATE TABLE root_deployments (
                        root TEXT NOT NULL,
                        deployment TEXT NOT NULL,
                        ordinal INTEGER NOT NULL,
                        release TEXT NOT NULL,
                        config TEXT,
                        config_path TEXT,
                        env TEXT,
                        health TEXT NOT NULL,
                        reason TEXT,
                        materialized INTEGER NOT NULL,
                        deployed_at TEXT NOT NULL,
                        activated_at TEXT,
                        PRIMARY KEY (root, deployment)
                    );
                    """)
        }
        History.registerIndex(&migrator)
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
        Ledger.registerMigrations(&migrator)
        migrator.registerMigration("roots-v2") { db in
            // The hooks a deployment was deployed with (JSON: on_activate, health_cmd,
            // health_timeout), so every later switch to it runs its own hooks with its own ids.
            try db.execute(sql: "ALTER TABLE root_deployments ADD COLUMN hooks TEXT")
        }
        migrator.registerMigration("roots-v3") { db in
            // The environment a root was bound to at its first deploy with --env: every later
            // deploy or rollback there is held to that environment's policy. A `bind` ledger
            // entry records it; the row is a cache of that entry and is checked against it.
            try db.execute(
                sql: """
                    CREATE TABLE root_bindings (
                        root TEXT PRIMARY KEY,
                        env TEXT NOT NULL,
                        bound_at TEXT NOT NULL
                    );
                    CREATE TRIGGER root_bindings_immutable BEFORE UPDATE ON root_bindings
                        BEGIN SELECT RAISE(ABORT, 'a root stays bound to its environment'); END;
                    CREATE TRIGGER root_bindings_kept BEFORE DELETE ON root_bindings
                        BEGIN SELECT RAISE(ABORT, 'a root stays bound to its environment'); END;
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
        let detail = error.message ?? error.description
        if error.resultCode == .SQLITE_FULL {
            return StoreError(
                .io,
                "database \(path): \(detail) (no space left on device; nothing was recorded, re-run once space is freed)",
                path: path)
        }
        return StoreError(.io, "database \(path): \(detail)", path: path)
    }
}
