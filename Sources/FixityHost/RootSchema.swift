import FixityStore
import GRDB

/// The host's tables in a store's database, which only FixityHost queries: `root_deployments`
/// (every deployment a root has seen, in order; a cache of the ledger's entries, checked against
/// them) and `root_bindings` (the environment each root is bound to). Applied the first time a
/// host type touches a store (`RootSchema.ensure`); the identifiers are recorded in every
/// database made before the split, so those stores are already migrated.
enum RootSchema {
    static let part = SchemaPart(owner: "FixityHost") { migrator in
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
    }

    /// Reads the host's tables, creating them first if this store has never had them.
    static func read<T>(_ store: Store, _ body: (Database) throws -> T) throws -> T {
        try store.ensureSchema(part)
        return try store.database.storeRead(body)
    }

    /// Writes the host's tables (and whatever else the transaction records), creating them
    /// first if this store has never had them.
    @discardableResult
    static func write<T>(_ store: Store, _ body: (Database) throws -> T) throws -> T {
        try store.ensureSchema(part)
        return try store.database.storeWrite(body)
    }
}
