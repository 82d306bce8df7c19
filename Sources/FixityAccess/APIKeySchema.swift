import FixityStore
import GRDB

/// The server's `api_keys` table, which only FixityAccess queries. A row holds what a key is —
/// never the key: its SHA-256, a display prefix, name, owner note, scopes, times — and is a
/// cache of the ledger's `key-*` entries, which record every change to it.
enum APIKeySchema {
    static let part = SchemaPart(owner: "FixityAccess") { migrator in
        migrator.registerMigration("api-keys-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE api_keys (
                        id TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        owner TEXT NOT NULL,
                        prefix TEXT NOT NULL,
                        digest TEXT NOT NULL UNIQUE,
                        scopes TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        expires_at TEXT NOT NULL,
                        revoked_at TEXT,
                        replaced_by TEXT,
                        last_used_at TEXT,
                        last_used_from TEXT
                    );
                    CREATE INDEX api_keys_name ON api_keys (name);
                    CREATE INDEX api_keys_prefix ON api_keys (prefix);
                    """)
        }
    }
}
