import FixityStore
import GRDB

/// Access windows' tables in the embedded control plane (docs/access.md):
///
/// - `access_windows`: each window — env, reason, TTL, the requesting key (name and id), the
///   approvals the policy in force asked for and what it said becomes of a window's changes;
///   its life (requested, opened, expires, ended: by whom and why).
/// - `access_window_hosts`: the hosts a window covers, and what each reported at its end.
/// - `access_approvals`: each approver's approve or deny (one say per approver).
/// - `access_execs`: each command — argv, host, who asked; its kept output (bounded), byte
///   counts and digests, exit; the host's signed last message kept as it arrived.
/// - `access_changes`: every path a window left changed on a host, before and after.
enum AccessSchema {
    static let part = SchemaPart(owner: "FixityServer.access") { migrator in
        migrator.registerMigration("access-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE access_windows (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        env TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        ttl_seconds INTEGER NOT NULL,
                        requester TEXT NOT NULL,
                        requester_key TEXT NOT NULL,
                        approvals_needed INTEGER NOT NULL,
                        after TEXT NOT NULL,
                        policy TEXT NOT NULL,
                        state TEXT NOT NULL,
                        requested_at TEXT NOT NULL,
                        opened_at TEXT,
                        expires_at TEXT,
                        ended_at TEXT,
                        ended_by TEXT,
                        end_reason TEXT
                    );
                    CREATE INDEX access_windows_env ON access_windows (env, id);
                    CREATE INDEX access_windows_state ON access_windows (state);
                    CREATE TABLE access_window_hosts (
                        window_id INTEGER NOT NULL,
                        key_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        outcome TEXT,
                        change_count INTEGER NOT NULL DEFAULT 0,
                        proposal TEXT,
                        reported_at TEXT,
                        detail TEXT,
                        PRIMARY KEY (window_id, key_id)
                    );
                    CREATE INDEX access_window_hosts_host ON access_window_hosts (key_id, window_id);
                    CREATE TABLE access_approvals (
                        window_id INTEGER NOT NULL,
                        approver TEXT NOT NULL,
                        key_id TEXT NOT NULL,
                        decision TEXT NOT NULL,
                        reason TEXT,
                        at TEXT NOT NULL,
                        PRIMARY KEY (window_id, approver)
                    );
                    CREATE TABLE access_execs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        window_id INTEGER NOT NULL,
                        key_id TEXT NOT NULL,
                        host TEXT NOT NULL,
                        argv TEXT NOT NULL,
                        timeout_seconds INTEGER NOT NULL,
                        requested_by TEXT NOT NULL,
                        requested_key TEXT NOT NULL,
                        state TEXT NOT NULL,
                        requested_at TEXT NOT NULL,
                        finished_at TEXT,
                        exit_code INTEGER,
                        signal INTEGER,
                        timed_out INTEGER NOT NULL DEFAULT 0,
                        stdout BLOB NOT NULL DEFAULT x'',
                        stderr BLOB NOT NULL DEFAULT x'',
                        stdout_bytes INTEGER NOT NULL DEFAULT 0,
                        stderr_bytes INTEGER NOT NULL DEFAULT 0,
                        stdout_digest TEXT,
                        stderr_digest TEXT,
                        reason TEXT,
                        progress_seq INTEGER NOT NULL DEFAULT 0,
                        result_body TEXT,
                        signature_input TEXT,
                        signature TEXT
                    );
                    CREATE INDEX access_execs_host ON access_execs (key_id, state);
                    CREATE INDEX access_execs_window ON access_execs (window_id, id);
                    CREATE TABLE access_changes (
                        window_id INTEGER NOT NULL,
                        host TEXT NOT NULL,
                        path TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        before TEXT,
                        after TEXT
                    );
                    CREATE INDEX access_changes_window ON access_changes (window_id, host);
                    """)
        }
    }
}
