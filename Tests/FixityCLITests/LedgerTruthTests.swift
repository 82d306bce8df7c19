import Foundation
import Testing

/// The ledger is the source of truth and the tables are caches of it (issue 15, items 3 and 5):
/// someone with write access to the store's database edits rows behind Fixity's back, with the
/// guarding triggers dropped, and every trust decision that would read the forged row refuses.
@Suite struct LedgerTruthTests {
    /// Runs SQL on the store's database as an attacker would (python3's sqlite3, no Fixity).
    func tamper(_ sandbox: Sandbox, _ sql: String) throws {
        let script =
            "import sqlite3, sys; db = sqlite3.connect('store/fixity.db'); db.executescript(sys.argv[1]); db.commit()"
        let result = try Sandbox.run("/usr/bin/env", ["python3", "-c", script, sql], in: sandbox.root)
        try #require(result.status == 0, "tampering failed: \(result.stderr)")
    }

    func logVerifyFinds(_ sandbox: Sandbox, _ fragment: String) throws {
        let verify = try sandbox.fixity("log", "verify")
        #expect(verify.status == 1, "log verify missed the edit: \(verify.stdout)")
        #expect(verify.stderr.contains(fragment), "log verify does not name '\(fragment)': \(verify.stderr)")
    }

    /// A policy sandbox: staging open, production needs known-good in staging.
    func governed() throws -> Sandbox {
        let sandbox = try Sandbox()
        try sandbox.sh(
            "mkdir -p src && echo v1 > src/VERSION && printf '[deploy]\\nhealth_cmd = \"test -f VERSION\"\\n' > src/fixity.toml"
        )
        _ = try sandbox.seal("src", extra: ["--tag", "1"])
        let policy = """
            [environments.staging]
            threshold = 0

            [environments.production]
            threshold = 0
            require_known_good_in = ["staging"]

            """
        try policy.write(toFile: "\(sandbox.root)/policy.toml", atomically: true, encoding: .utf8)
        try #require(try sandbox.fixity("policy", "set", "policy.toml").status == 0)
        return sandbox
    }

    @Test func aReplacedPolicyTextIsRefused() throws {
        let sandbox = try governed()
        #expect(try sandbox.fixity("log", "verify").status == 0)
        try tamper(
            sandbox,
            """
            DROP TRIGGER policies_append_only;
            UPDATE policies SET text = '[environments.production]
            threshold = 0
            ';
            """)
        let show = try sandbox.fixity("policy", "show")
        #expect(show.status == 2 && show.stderr.contains("does not hash to its digest"), "\(show.stderr)")
        let deploy = try sandbox.fixity("deploy", "app@1", "--root", "prod", "--env", "production")
        #expect(deploy.status == 2 && deploy.stderr.contains("edited"), "\(deploy.stderr)")
        try logVerifyFinds(sandbox, "policy row 0")
    }

    @Test func aDeletedNewerPolicyIsRefused() throws {
        let sandbox = try governed()
        try "[environments.production]\nthreshold = 0\n[environments.staging]\nthreshold = 0\n".write(
            toFile: "\(sandbox.root)/open.toml", atomically: true, encoding: .utf8)
        // The strict policy is the newer one: deleting it would bring the open one back.
        try sandbox.sh("cp policy.toml strict.toml")
        #expect(try sandbox.fixity("policy", "set", "open.toml").status == 0)
        #expect(try sandbox.fixity("policy", "set", "strict.toml").status == 0)
        try tamper(
            sandbox, "DROP TRIGGER policies_kept; DELETE FROM policies WHERE seq = (SELECT MAX(seq) FROM policies);")
        let deploy = try sandbox.fixity("deploy", "app@1", "--root", "prod", "--env", "production")
        #expect(
            deploy.status == 2 && deploy.stderr.contains("not the policy the ledger's newest policy entry set"),
            "\(deploy.stderr)")
        try logVerifyFinds(sandbox, "has no such row")
    }

    @Test func aForgedKnownGoodRowDoesNotPromote() throws {
        let sandbox = try governed()
        // Staging's check fails: the release is known-bad there.
        try sandbox.sh("touch stage-broken")
        #expect(
            try sandbox.fixity(
                "deploy", "app@1", "--root", "stage", "--env", "staging", "--health-cmd",
                "test ! -e '\(sandbox.root)/stage-broken'"
            ).status == 1)
        try tamper(sandbox, "UPDATE root_deployments SET health = 'known-good', reason = NULL;")
        let prod = try sandbox.fixity("deploy", "app@1", "--root", "prod", "--env", "production")
        #expect(prod.status == 2 && prod.stderr.contains("never known-good in staging"), "\(prod.stderr)")
        try logVerifyFinds(sandbox, "the ledger's health entries make it known-bad")
    }

    /// Known-good counts only the release's own health check, on a root bound to the environment.
    @Test func knownGoodNeedsTheReleasesOwnCheck() throws {
        let sandbox = try governed()
        #expect(
            try sandbox.fixity("deploy", "app@1", "--root", "scratch", "--env", "staging", "--health-cmd", "").status
                == 0)
        #expect(
            try sandbox.fixity("deploy", "app@1", "--root", "scratch2", "--env", "staging", "--health-cmd", "true")
                .status == 0)
        let refused = try sandbox.fixity("deploy", "app@1", "--root", "prod", "--env", "production")
        #expect(refused.status == 2 && refused.stderr.contains("never known-good in staging"), "\(refused.stderr)")
        // The release's own check (from its fixity.toml), passed on a staging root: promotes.
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "stage", "--env", "staging").status == 0)
        let allowed = try sandbox.fixity("deploy", "app@1", "--root", "prod", "--env", "production")
        #expect(allowed.status == 0, "\(allowed.stderr)")
    }

    @Test func aTagMovedByDeleteAndInsertIsRefused() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        let two = try sandbox.fixity("show", "app@2", "--json").json()["release"] as? String
        try tamper(
            sandbox,
            "DROP TRIGGER tags_kept; DELETE FROM tags WHERE version = '1'; INSERT INTO tags (app, version, release, created_at) VALUES ('app', '1', '\(try #require(two))', '2026-01-01T00:00:00Z');"
        )
        let show = try sandbox.fixity("show", "app@1")
        #expect(show.status == 2 && show.stderr.contains("tag app@1"), "\(show.stderr)")
        try logVerifyFinds(sandbox, "tag app@1")
    }

    @Test func anInsertedEnvelopeDoesNotCount() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        #expect(try sandbox.fixity("key", "generate", "--out", "alice.key").status == 0)
        // Alice's real signature, made in another store and copied into this one's table only.
        try sandbox.sh("cp -a store other && chmod 700 other")
        #expect(
            try sandbox.fixity(["sign", "app@1", "--key", "alice.key"], store: "\(sandbox.root)/other").status == 0)
        try sandbox.sh(
            """
            python3 -c "import sqlite3; a = sqlite3.connect('other/fixity.db'); rows = a.execute(\\"SELECT * FROM envelopes WHERE predicate_type LIKE '%release%'\\").fetchall(); b = sqlite3.connect('store/fixity.db'); b.executemany('INSERT INTO envelopes VALUES (?, ?, ?, ?, ?, ?)', rows); b.commit()"
            """)
        let signatures = try sandbox.fixity("signatures", "app@1")
        #expect(
            signatures.status == 2 && signatures.stderr.contains("no ledger entry recorded it"), "\(signatures.stderr)")
        try logVerifyFinds(sandbox, "no ledger entry recorded it")
    }

    /// Truncating the ledger (its newest entries and their Merkle nodes) leaves rows the ledger
    /// no longer backs: log verify names them even without a checkpoint held elsewhere.
    @Test func aTruncatedLedgerIsFoundThroughItsTables() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        let size = try sandbox.fixity("log", "export").stdout.split(separator: "\n").count
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root").status == 0)
        try tamper(
            sandbox,
            "DROP TRIGGER history_no_delete; DROP TRIGGER ledger_nodes_no_delete; DELETE FROM history WHERE seq >= \(size); DELETE FROM ledger_nodes WHERE (idx + 1) * (1 << level) > \(size);"
        )
        try logVerifyFinds(sandbox, "no ledger entry records this deployment on this root")
        let status = try sandbox.fixity("status", "--root", "root")
        #expect(status.stderr.contains("the ledger has no entry"), "\(status.stderr)")
    }
}
