import Foundation
import Testing

/// A root serves one environment, and a policy in force always applies (issues 14 item 14,
/// 15 item 4): no silent policy-free deploy through a missing or mistyped --env.
@Suite struct EnvironmentBindingTests {
    /// A policy with open staging and production environments (no keys needed), optionally
    /// with a default environment.
    func setPolicy(_ sandbox: Sandbox, extra: String = "") throws {
        let text = """
            \(extra)
            [environments.staging]
            threshold = 0

            [environments.production]
            threshold = 0

            """
        try text.write(toFile: "\(sandbox.root)/policy.toml", atomically: true, encoding: .utf8)
        let set = try sandbox.fixity("policy", "set", "policy.toml")
        try #require(set.status == 0, "\(set.stderr)")
    }

    @Test func aPolicyInForceNeedsAnEnvironment() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        try setPolicy(sandbox)
        let none = try sandbox.fixity("deploy", "app@1", "--root", "root")
        #expect(none.status == 2)
        #expect(
            none.stderr.contains("--env") && none.stderr.contains("production, staging")
                && none.stderr.contains("--no-policy"), "\(none.stderr)")
        let typo = try sandbox.fixity("deploy", "app@1", "--root", "root", "--env", "Staging")
        #expect(typo.status == 2 && typo.stderr.contains("'Staging' is not defined"), "\(typo.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.root)/root/current"))

        // Said in so many words, and recorded.
        let outside = try sandbox.fixity("deploy", "app@1", "--root", "root", "--no-policy")
        #expect(outside.status == 0, "\(outside.stderr)")
        #expect(try sandbox.fixity("log", "export").stdout.contains("none (--no-policy)"))
    }

    @Test func theFirstDeployWithAnEnvironmentBindsTheRoot() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        try setPolicy(sandbox)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root", "--env", "staging").status == 0)
        let other = try sandbox.fixity("deploy", "app@2", "--root", "root", "--env", "production")
        #expect(other.status == 2 && other.stderr.contains("bound to environment staging"), "\(other.stderr)")
        let none = try sandbox.fixity("deploy", "app@2", "--root", "root")
        #expect(none.status == 2 && none.stderr.contains("--env staging"), "\(none.stderr)")
        let noPolicy = try sandbox.fixity("deploy", "app@2", "--root", "root", "--no-policy")
        #expect(noPolicy.status == 2 && noPolicy.stderr.contains("bound"), "\(noPolicy.stderr)")
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root", "--env", "staging").status == 0)
        #expect(try sandbox.fixity("rollback", "--root", "root").status == 0)
        let log = try sandbox.fixity("log", "export").stdout
        #expect(log.contains(#""action":"bind""#) && log.contains(#""env":"staging""#))
    }

    @Test func theDefaultEnvironmentIsUsedWithoutEnv() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        try setPolicy(sandbox, extra: "default_environment = \"staging\"")
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        let status = try sandbox.fixity("status", "--root", "root", "--json").json()
        #expect((status["active"] as? [String: Any])?["env"] as? String == "staging")
        let other = try sandbox.fixity("deploy", "app@1", "--root", "root", "--env", "production")
        #expect(other.status == 2 && other.stderr.contains("bound to environment staging"))
    }

    @Test func aPolicyNamingAnUndefinedEnvironmentIsRefused() throws {
        let sandbox = try Sandbox()
        for (text, fragment) in [
            ("[environments.production]\nthreshold = 0\nrequire_known_good_in = [\"stagign\"]\n", "'stagign'"),
            (
                "default_environment = \"prod\"\n[environments.production]\nthreshold = 0\n",
                "default_environment 'prod'"
            ),
        ] {
            try text.write(toFile: "\(sandbox.root)/policy.toml", atomically: true, encoding: .utf8)
            let set = try sandbox.fixity("policy", "set", "policy.toml")
            #expect(set.status == 2 && set.stderr.contains(fragment), "\(set.stderr)")
        }
    }

    /// The binding row is a cache of its ledger entry: edited behind Fixity's back (triggers
    /// dropped), it is refused rather than obeyed.
    @Test func anEditedBindingIsRefused() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        try setPolicy(sandbox)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root", "--env", "staging").status == 0)
        try sandbox.sh(
            """
            python3 -c "import sqlite3; db = sqlite3.connect('store/fixity.db'); db.execute('DROP TRIGGER root_bindings_immutable'); db.execute(\\"UPDATE root_bindings SET env = 'production'\\"); db.commit()"
            """)
        let forged = try sandbox.fixity("deploy", "app@2", "--root", "root", "--env", "production")
        #expect(forged.status == 2 && forged.stderr.contains("the database was edited"), "\(forged.stderr)")
    }
}

extension EnvironmentBindingTests {
    /// Under a policy the release decides where its config is mounted: `--config-path` may not
    /// drop an unsigned config into bin/hooks.d (issue 15 item 6). Without a policy it may.
    @Test func configPathFlagIsRefusedUnderAPolicy() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        try sandbox.sh("mkdir -p cfg && echo 'echo owned' > cfg/hook && chmod +x cfg/hook")
        _ = try sandbox.seal("cfg", app: "cfg", extra: ["--tag", "1"])
        #expect(
            try sandbox.fixity("deploy", "app@1", "--root", "free", "--config", "cfg@1", "--config-path", "bin/hooks.d")
                .status == 0)
        try setPolicy(sandbox)
        let moved = try sandbox.fixity(
            "deploy", "app@1", "--root", "root", "--env", "staging", "--config", "cfg@1", "--config-path", "bin/hooks.d"
        )
        #expect(
            moved.status == 2 && moved.stderr.contains("--config-path bin/hooks.d is refused under a policy"),
            "\(moved.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.root)/root/current"))
    }
}
