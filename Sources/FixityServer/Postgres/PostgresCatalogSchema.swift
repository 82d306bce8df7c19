/// The control plane's tables in PostgreSQL, beside the ledger's (`PostgresLedger.schema`, which
/// is created first: these reuse its append-only guard). Releases and tags never change once
/// written; the other tables are caches of the ledger's entries, written in the same
/// transaction as the entry that records the change.
enum PostgresCatalogSchema {
    static let statements = [
        """
        CREATE TABLE IF NOT EXISTS releases (
            id TEXT NOT NULL, app TEXT NOT NULL, sealed_at TEXT NOT NULL, files BIGINT NOT NULL,
            bytes BIGINT NOT NULL, PRIMARY KEY (id, app))
        """,
        """
        CREATE TABLE IF NOT EXISTS tags (
            app TEXT NOT NULL, version TEXT NOT NULL, release TEXT NOT NULL, created_at TEXT NOT NULL,
            PRIMARY KEY (app, version))
        """,
        """
        CREATE TABLE IF NOT EXISTS envelopes (
            digest TEXT PRIMARY KEY, release TEXT NOT NULL, predicate_type TEXT NOT NULL, key_ids TEXT NOT NULL,
            envelope TEXT NOT NULL, added_at TEXT NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS envelopes_release ON envelopes (release)",
        """
        CREATE TABLE IF NOT EXISTS policies (
            seq BIGINT PRIMARY KEY, digest TEXT NOT NULL, text TEXT NOT NULL, envelope TEXT NOT NULL,
            key_id TEXT NOT NULL, set_at TEXT NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS desired_states (
            seq BIGSERIAL PRIMARY KEY, env TEXT NOT NULL, release TEXT NOT NULL, policy TEXT NOT NULL,
            key_id TEXT NOT NULL, set_at TEXT NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS desired_states_env ON desired_states (env, seq)",
        """
        CREATE TABLE IF NOT EXISTS api_keys (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL, prefix TEXT NOT NULL,
            digest TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
            revoked_at TEXT, replaced_by TEXT, last_used_at TEXT, last_used_from TEXT)
        """,
        "CREATE INDEX IF NOT EXISTS api_keys_prefix ON api_keys (prefix)",
        """
        CREATE OR REPLACE TRIGGER releases_append_only BEFORE UPDATE OR DELETE ON releases
            FOR EACH ROW EXECUTE FUNCTION fixity_append_only()
        """,
        """
        CREATE OR REPLACE TRIGGER tags_append_only BEFORE UPDATE OR DELETE ON tags
            FOR EACH ROW EXECUTE FUNCTION fixity_append_only()
        """,
        """
        CREATE OR REPLACE TRIGGER policies_append_only BEFORE UPDATE OR DELETE ON policies
            FOR EACH ROW EXECUTE FUNCTION fixity_append_only()
        """,
        // What the replicas' caches must hear about (`PostgresChangeFeed`): a key's standing and
        // a new desired state. `last_used_*` is left out: it changes every second and decides nothing.
        """
        CREATE OR REPLACE FUNCTION fixity_catalog_changed() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('\(PostgresChangeFeed.channel)', TG_TABLE_NAME);
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """,
        """
        CREATE OR REPLACE TRIGGER api_keys_changed
            AFTER INSERT OR DELETE OR UPDATE OF name, owner, prefix, digest, scopes, expires_at, revoked_at, replaced_by
            ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION fixity_catalog_changed()
        """,
        """
        CREATE OR REPLACE TRIGGER desired_states_changed AFTER INSERT OR UPDATE OR DELETE ON desired_states
            FOR EACH STATEMENT EXECUTE FUNCTION fixity_catalog_changed()
        """,
        """
        CREATE OR REPLACE TRIGGER desired_states_append_only BEFORE UPDATE OR DELETE ON desired_states
            FOR EACH ROW EXECUTE FUNCTION fixity_append_only()
        """,
    ]
}
