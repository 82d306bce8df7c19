import FixityStore
import GRDB

/// The fleet's tables in the embedded control plane (FixityServer's, docs/agent.md):
///
/// - `hosts`: each enrolled host — name, environment, public key (its id is the key id), when
///   and by which API key it was enrolled, revocation; and what its latest reports said (the
///   last report seq it accepted, so a replayed report is refused; its state, release, drift).
/// - `host_reports`: every state-changing report as the host signed it (body and signature):
///   the server keeps what the host said, not its own summary of it.
/// - `rollouts` and `rollout_hosts`: phased rollouts, their waves, and each host's wave and
///   outcome; the engine (`RolloutEngine`) moves them on.
enum FleetSchema {
    static let part = SchemaPart(owner: "FixityServer.fleet") { migrator in
        migrator.registerMigration("fleet-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE hosts (
                        key_id TEXT PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE,
                        env TEXT NOT NULL,
                        public_key TEXT NOT NULL,
                        enrolled_at TEXT NOT NULL,
                        enrolled_by TEXT NOT NULL,
                        revoked_at TEXT,
                        last_report_seq INTEGER NOT NULL DEFAULT 0,
                        last_seen_at TEXT,
                        last_report_at TEXT,
                        interval_seconds INTEGER NOT NULL DEFAULT 30,
                        last_event TEXT,
                        release TEXT,
                        deployment TEXT,
                        attempted TEXT,
                        drift TEXT NOT NULL DEFAULT '[]',
                        detail TEXT
                    );
                    CREATE INDEX hosts_env ON hosts (env, name);
                    CREATE TABLE host_reports (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        key_id TEXT NOT NULL,
                        report_seq INTEGER NOT NULL,
                        event TEXT NOT NULL,
                        received_at TEXT NOT NULL,
                        body TEXT NOT NULL,
                        signature_input TEXT NOT NULL,
                        signature TEXT NOT NULL
                    );
                    CREATE INDEX host_reports_host ON host_reports (key_id, seq);
                    CREATE TABLE rollouts (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        env TEXT NOT NULL,
                        release TEXT NOT NULL,
                        previous TEXT NOT NULL,
                        waves TEXT NOT NULL,
                        bake_seconds INTEGER NOT NULL,
                        max_failed INTEGER NOT NULL,
                        state TEXT NOT NULL,
                        wave INTEGER NOT NULL,
                        started_at TEXT NOT NULL,
                        wave_started_at TEXT NOT NULL,
                        wave_completed_at TEXT,
                        finished_at TEXT,
                        reason TEXT,
                        key_id TEXT NOT NULL
                    );
                    CREATE INDEX rollouts_env ON rollouts (env, id);
                    CREATE TABLE rollout_hosts (
                        rollout_id INTEGER NOT NULL,
                        key_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        wave INTEGER NOT NULL,
                        state TEXT NOT NULL,
                        updated_at TEXT,
                        PRIMARY KEY (rollout_id, key_id)
                    );
                    """)
        }
        // A reinstalled host enrolls again under its name with a new key: the name is unique
        // among hosts not revoked only, and a revoked row stays (its key refused, its reports kept).
        migrator.registerMigration("fleet-v2-reenroll") { db in
            let columns = try db.columns(in: "hosts").map(\.name).joined(separator: ", ")
            try db.execute(
                sql: """
                    CREATE TABLE hosts_reenroll (
                        key_id TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        env TEXT NOT NULL,
                        public_key TEXT NOT NULL,
                        enrolled_at TEXT NOT NULL,
                        enrolled_by TEXT NOT NULL,
                        revoked_at TEXT,
                        last_report_seq INTEGER NOT NULL DEFAULT 0,
                        last_seen_at TEXT,
                        last_report_at TEXT,
                        interval_seconds INTEGER NOT NULL DEFAULT 30,
                        last_event TEXT,
                        release TEXT,
                        deployment TEXT,
                        attempted TEXT,
                        drift TEXT NOT NULL DEFAULT '[]',
                        detail TEXT
                    );
                    INSERT INTO hosts_reenroll (\(columns)) SELECT \(columns) FROM hosts;
                    DROP TABLE hosts;
                    ALTER TABLE hosts_reenroll RENAME TO hosts;
                    CREATE INDEX hosts_env ON hosts (env, name);
                    CREATE UNIQUE INDEX hosts_live_name ON hosts (name) WHERE revoked_at IS NULL;
                    """)
        }
    }
}
