import FixityStore
import GRDB

/// The embedded control plane's own tables (FixityServer's), beside the store's:
///
/// - `signed_policies`: the DSSE envelope each policy arrived in, keyed by the store's policy
///   seq — what agents fetch and verify against their pinned root keys.
/// - `desired_states`: every desired state ever set, per environment, newest highest; a
///   promotion appends a row and its ledger entry in one transaction.
enum ControlPlaneSchema {
    static let part = SchemaPart(owner: "FixityServer") { migrator in
        migrator.registerMigration("control-plane-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE signed_policies (
                        policy_seq INTEGER PRIMARY KEY,
                        digest TEXT NOT NULL,
                        envelope TEXT NOT NULL,
                        key_id TEXT NOT NULL
                    );
                    CREATE TABLE desired_states (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        env TEXT NOT NULL,
                        release TEXT NOT NULL,
                        policy TEXT NOT NULL,
                        key_id TEXT NOT NULL,
                        set_at TEXT NOT NULL
                    );
                    CREATE INDEX desired_states_env ON desired_states (env, seq);
                    """)
        }
    }
}
