import Foundation
import Testing

/// Deploy, health checks, automatic and manual rollback, retention and locking, end to end.
@Suite struct DeployTests {
    /// Seals `count` small app versions `app@1…` (each with a marker file holding its number).
    static func releases(_ sandbox: Sandbox, _ count: Int, app: String = "app") throws -> [String] {
        try (1...count).map { n in
            try sandbox.sh(
                "mkdir -p src\(app)\(n)/bin src\(app)\(n)/lib/empty && echo v\(n) > src\(app)\(n)/VERSION && printf '#!/bin/sh\\necho v\(n)\\n' > src\(app)\(n)/bin/run && chmod 750 src\(app)\(n)/bin/run && ln -sfn ../VERSION src\(app)\(n)/lib/version"
            )
            return try sandbox.seal("src\(app)\(n)", app: app, extra: ["--tag", "\(n)"])
        }
    }

    func current(_ sandbox: Sandbox) throws -> String {
        try sandbox.sh("cat root/current/VERSION").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func deployMaterializesExactlyAndRedeployIsANoOp() throws {
        let sandbox = try Sandbox()
        _ = try Self.releases(sandbox, 1)
        let first = try sandbox.fixity("deploy", "app@1", "--root", "root", "--json")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try first.json()["result"] as? String == "activated")
        #expect(try current(sandbox) == "v1")
        #expect(try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root").isEmpty)
        #expect(try sandbox.sh("stat -c %a root/current/bin/run").stdout == "750\n")
        #expect(try sandbox.sh("readlink root/current").stdout.hasPrefix("deployments/"))
        let again = try sandbox.fixity("deploy", "app@1", "--root", "root", "--json")
        #expect(again.status == 0)
        #expect(try again.json()["result"] as? String == "unchanged")
    }

    @Test func failingHealthCheckRollsBackAndMarksKnownBad() throws {
        let sandbox = try Sandbox()
        _ = try Self.releases(sandbox, 2)
        let v1 = try sandbox.fixity("deploy", "app@1", "--root", "root", "--json")
        let v1Deployment = try v1.json()["deployment"] as? String
        let failed = try sandbox.fixity(
            "deploy", "app@2", "--root", "root", "--health-cmd", "echo checking $(cat VERSION); exit 7", "--json")
        #expect(failed.status == 1)
        let json = try failed.json()
        #expect(json["result"] as? String == "rolled_back")
        #expect(json["rolled_back_to"] as? String == v1Deployment)
        let health = try #require(json["health"] as? [String: Any])
        #expect(health["exit_code"] as? Int == 7)
        #expect((health["output_tail"] as? String)?.contains("checking v2") == true)
        #expect(try current(sandbox) == "v1")

        let refused = try sandbox.fixity("deploy", "app@2", "--root", "root")
        #expect(refused.status == 2)
        #expect(
            refused.stderr.contains("known-bad") && refused.stderr.contains("exited 7")
                && refused.stderr.contains("--force"))
        let forced = try sandbox.fixity("deploy", "app@2", "--root", "root", "--force", "--health-cmd", "true")
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try current(sandbox) == "v2")
    }

    @Test func hooksRunInTheNewTreeWithTheirEnvironment() throws {
        let sandbox = try Sandbox()
        let ids = try Self.releases(sandbox, 1)
        let result = try sandbox.fixity(
            "deploy", "app@1", "--root", "root", "--env", "staging",
            "--on-activate", "echo activated > '\(sandbox.root)/hook'",
            "--health-cmd", "echo \"$FIXITY_RELEASE $FIXITY_ENV $FIXITY_ROOT $(cat VERSION)\" > '\(sandbox.root)/probe'"
        )
        #expect(result.status == 0, "\(result.stderr)")
        // FIXITY_ROOT is absolute: hooks run with the deployment folder as working directory.
        let absolute = try sandbox.sh("realpath root").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try sandbox.sh("cat probe").stdout == "\(ids[0]) staging \(absolute) v1\n")
        #expect(try sandbox.sh("cat hook").stdout == "activated\n")
    }

    @Test func hangingHealthCheckIsKilledAtTheTimeout() throws {
        let sandbox = try Sandbox()
        _ = try Self.releases(sandbox, 2)
        try sandbox.fixity("deploy", "app@1", "--root", "root")
        let start = Date()
        // A duration no other process on the machine uses, to find the check's children by it.
        let marker = String(Int.random(in: 100_000...999_999))
        let result = try sandbox.fixity(
            "deploy", "app@2", "--root", "root", "--health-cmd", "sleep \(marker) & sleep \(marker)",
            "--health-timeout", "1", "--json")
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(result.status == 1)
        #expect((try result.json()["health"] as? [String: Any])?["timed_out"] as? Bool == true)
        #expect(try current(sandbox) == "v1")
        // The bracket keeps pgrep from matching the shell that runs it.
        let pattern = "sleep [\(marker.prefix(1))]\(marker.dropFirst())"
        #expect(
            try sandbox.sh("pgrep -f '\(pattern)' | wc -l").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == "0", "the health check's children survived")
    }

    @Test func firstDeploymentFailingLeavesNoCurrent() throws {
        let sandbox = try Sandbox()
        _ = try Self.releases(sandbox, 1)
        let result = try sandbox.fixity("deploy", "app@1", "--root", "root", "--health-cmd", "false")
        #expect(result.status == 1)
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.root)/root/current"))
    }

    @Test func rollbackStepsBackOneKnownGoodDeploymentAtATime() throws {
        let sandbox = try Sandbox()
        _ = try Self.releases(sandbox, 3)
        for n in 1...3 { #expect(try sandbox.fixity("deploy", "app@\(n)", "--root", "root").status == 0) }
        #expect(try sandbox.fixity("rollback", "--root", "root").status == 0)
        #expect(try current(sandbox) == "v2")
        #expect(try sandbox.fixity("rollback", "--root", "root").status == 0)
        #expect(try current(sandbox) == "v1")
        let none = try sandbox.fixity("rollback", "--root", "root")
        #expect(none.status == 2 && none.stderr.contains("no known-good deployment older"))
        #expect(try sandbox.fixity("rollback", "--root", "root", "--to", "app@3").status == 0)
        #expect(try current(sandbox) == "v3")
        #expect(try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root").isEmpty)
    }

    @Test func rollbackRematerializesAndVerifiesWhenTheTreeIsGone() throws {
        let sandbox = try Sandbox()
        _ = try Self.releases(sandbox, 2)
        try sandbox.fixity("deploy", "app@1", "--root", "root", "--keep", "1")
        try sandbox.fixity("deploy", "app@2", "--root", "root", "--keep", "1")
        #expect(
            try sandbox.sh("ls root/deployments | wc -l").stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let rollback = try sandbox.fixity("rollback", "--root", "root", "--json")
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(try rollback.json()["materialized"] as? Bool == true)
        #expect(try current(sandbox) == "v1")
        #expect(try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root").isEmpty)
        // Materialized: a rollback forward again is a switch, no copying.
        let forward = try sandbox.fixity("rollback", "--root", "root", "--to", "app@2", "--json")
        #expect(try forward.json()["materialized"] as? Bool == false)
    }

    @Test func configIsMountedAndRollsBackTogetherWithTheApp() throws {
        let sandbox = try Sandbox()
        _ = try Self.releases(sandbox, 1)
        try sandbox.sh(
            "mkdir c1 c2 && echo 'db = \"one\"' > c1/db.toml && echo 'db = \"two\"' > c2/db.toml && chmod 600 c1/db.toml c2/db.toml"
        )
        _ = try sandbox.seal("c1", app: "shop-config", extra: ["--tag", "1"])
        _ = try sandbox.seal("c2", app: "shop-config", extra: ["--tag", "2"])
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root", "--config", "shop-config@1").status == 0)
        #expect(try sandbox.sh("cat root/current/config/db.toml").stdout == "db = \"one\"\n")
        #expect(
            try sandbox.fixity(
                "deploy", "app@1", "--root", "root", "--config", "shop-config@2", "--config-path", "etc/shop"
            ).status == 0)
        #expect(try sandbox.sh("cat root/current/etc/shop/db.toml").stdout == "db = \"two\"\n")
        #expect(try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root").isEmpty)
        #expect(try sandbox.fixity("rollback", "--root", "root").status == 0)
        #expect(try sandbox.sh("cat root/current/config/db.toml").stdout == "db = \"one\"\n")
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.root)/root/current/etc"))
    }

    @Test func failedDeploysNeverPushOutTheLastKnownGoodOnes() throws {
        let sandbox = try Sandbox()
        _ = try Self.releases(sandbox, 14)
        for n in 1...4 { #expect(try sandbox.fixity("deploy", "app@\(n)", "--root", "root").status == 0) }
        for n in 5...14 {
            #expect(try sandbox.fixity("deploy", "app@\(n)", "--root", "root", "--health-cmd", "false").status == 1)
        }
        let status = try sandbox.fixity("status", "--root", "root", "--json").json()
        let onDisk = try #require(status["deployments"] as? [[String: Any]]).filter { record in
            FileManager.default.fileExists(
                atPath: "\(sandbox.root)/root/deployments/\((record["deployment"] as? String ?? "").dropFirst(7))")
        }
        #expect(onDisk.count == 3)
        #expect(onDisk.allSatisfy { $0["health"] as? String == "known-good" })
        #expect(try current(sandbox) == "v4")
        for _ in 1...2 {
            #expect(try sandbox.fixity("rollback", "--root", "root", "--json").json()["materialized"] as? Bool == false)
        }
        #expect(try current(sandbox) == "v2")
    }

    @Test func secondDeployWaitsForTheLockThenGivesUpNamingTheHolder() throws {
        let sandbox = try Sandbox()
        _ = try Self.releases(sandbox, 2)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: Sandbox.binary)
        holder.arguments = [
            "deploy", "app@1", "--root", "\(sandbox.root)/root", "--store", sandbox.store, "--health-cmd", "sleep 4",
        ]
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        defer { holder.waitUntilExit() }
        var waited = 0
        while !FileManager.default.fileExists(atPath: "\(sandbox.root)/root/current") && waited < 100 {
            Thread.sleep(forTimeInterval: 0.05)
            waited += 1
        }
        let second = try sandbox.fixity("deploy", "app@2", "--root", "root", "--lock-timeout", "1")
        #expect(second.status == 2)
        #expect(second.stderr.contains("locked by pid \(holder.processIdentifier)"), "\(second.stderr)")
        holder.waitUntilExit()
        #expect(holder.terminationStatus == 0)
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root", "--lock-timeout", "1").status == 0)
    }

    @Test func deploySettingsComeFromTheSealedFixityToml() throws {
        let sandbox = try Sandbox()
        _ = try Self.releases(sandbox, 1)
        try sandbox.sh(
            "mkdir -p bad && cp -r srcapp1/. bad/ && printf '[deploy]\\nhealth_cmd = \"exit 9\"\\nkeep = 2\\n' > bad/fixity.toml"
        )
        _ = try sandbox.seal("bad", extra: ["--tag", "toml"])
        try sandbox.fixity("deploy", "app@1", "--root", "root")
        let fromToml = try sandbox.fixity("deploy", "app@toml", "--root", "root", "--json")
        #expect(fromToml.status == 1)
        #expect((try fromToml.json()["health"] as? [String: Any])?["exit_code"] as? Int == 9)
        let overridden = try sandbox.fixity("deploy", "app@toml", "--root", "root", "--force", "--health-cmd", "true")
        #expect(overridden.status == 0, "\(overridden.stderr)")
    }
}

@Suite struct ImmutableDeployTests {
    @Test func immutableTreesResistChangesAndAreStillRemovedByRetention() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        let first = try sandbox.fixity("deploy", "app@1", "--root", "root", "--immutable", "--keep", "1", "--json")
        #expect(first.status == 0, "\(first.stderr)")
        let warnings = try #require(try first.json()["warnings"] as? [String])
        if warnings.isEmpty {
            // The attribute is set: even root cannot change the live tree.
            #expect(
                try Sandbox.run("/bin/sh", ["-c", "echo hotfix >> root/current/VERSION"], in: sandbox.root).status != 0)
            #expect(try sandbox.sh("lsattr -d root/current/VERSION").stdout.hasPrefix("----i"))
        } else {
            #expect(warnings[0].contains("immutable"))
        }
        let second = try sandbox.fixity("deploy", "app@2", "--root", "root", "--immutable", "--keep", "1", "--json")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try (second.json()["removed"] as? [String])?.count == 1)
        #expect(
            try sandbox.sh("ls root/deployments | wc -l").stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }
}

@Suite struct HardlinkDeployTests {
    @Test func hardlinkDeploysShareVerifiedLinkSourcesAndHealTamperedOnes() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        let first = try sandbox.fixity("deploy", "app@1", "--root", "root", "--link", "hardlink")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root").isEmpty)
        #expect(try sandbox.sh("stat -c '%h %a' root/current/bin/run").stdout == "2 750\n")
        // A hot-fix through the link changes the link source, never objects/.
        try sandbox.sh("chmod u+w root/current/VERSION && echo hotfix >> root/current/VERSION")
        #expect(try sandbox.fixity("fsck").status == 0)
        // The next deploy that needs that blob re-verifies the source and replaces it.
        try sandbox.sh("mkdir again && cp -a srcapp1/. again/ && echo extra > again/extra")
        _ = try sandbox.seal("again", extra: ["--tag", "again"])
        let second = try sandbox.fixity("deploy", "app@again", "--root", "root", "--link", "hardlink")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try sandbox.sh("cat root/current/VERSION").stdout == "v1\n")
        #expect(try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root").isEmpty)
        // gc keeps link sources in use and drops those no deployment links.
        try sandbox.fixity("deploy", "app@2", "--root", "root", "--link", "copy", "--keep", "1")
        let gc = try sandbox.fixity("gc", "--json")
        #expect(gc.status == 0)
        #expect((try gc.json()["removed_link_sources"] as? Int ?? 0) > 0)
        let immutable = try sandbox.fixity("deploy", "app@1", "--root", "root", "--link", "hardlink", "--immutable")
        #expect(immutable.status == 2 && immutable.stderr.contains("--immutable cannot be combined"))
    }

    /// Hardlink sources carry a verified stamp: trusted while their stat is exactly the stamped
    /// one, re-hashed (and replaced) once anything moved their ctime — even a write that keeps
    /// size and mtime (`touch -r`).
    @Test func stampedLinkSourcesAreTrustedUntilTheirCtimeMoves() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        for name in ["again", "third", "fourth"] {
            try sandbox.sh("mkdir \(name) && cp -a srcapp1/. \(name)/ && echo \(name) > \(name)/extra")
            _ = try sandbox.seal(name, extra: ["--tag", name])
        }
        func deploy(_ ref: String, _ extra: [String] = []) throws -> [String: Any] {
            let result = try sandbox.fixity(["deploy", ref, "--root", "root", "--link", "hardlink", "--json"] + extra)
            try #require(result.status == 0, "\(result.stderr)")
            return try result.json()
        }
        let first = try deploy("app@1")
        #expect(first["link_sources_trusted"] as? Int == 0 && first["link_sources_hashed"] as? Int == 2, "\(first)")
        let second = try deploy("app@again")
        #expect(second["link_sources_trusted"] as? Int == 2 && second["link_sources_hashed"] as? Int == 1, "\(second)")

        // A write through the live link that keeps size and mtime: only ctime tells.
        try sandbox.sh("f=root/current/VERSION; touch -r $f stamp-ref; printf 'v9\\n' > $f; touch -r stamp-ref $f")
        #expect(try sandbox.sh("cat root/current/VERSION").stdout == "v9\n")
        let third = try deploy("app@third")
        #expect(third["link_sources_hashed"] as? Int == 2, "the tampered source was trusted: \(third)")
        #expect(try sandbox.sh("cat root/current/VERSION").stdout == "v1\n", "a tampered link source was spread")
        #expect(try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root").isEmpty)

        let always = try deploy("app@fourth", ["--verify-sources", "always"])
        #expect(always["link_sources_trusted"] as? Int == 0, "\(always)")
        let fsck = try sandbox.fixity("fsck", "--json").json()
        #expect((fsck["link_sources_checked"] as? Int ?? 0) >= 3)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root", "--verify-sources", "sometimes").status == 64)

        // The stamps live in one checksummed file: one flipped byte makes it no stamps at all
        // (every source re-hashed, nothing refused), and the deploy writes it whole again.
        try sandbox.sh(
            "f=store/cache/link-stamps; test -s $f && printf '\\377' | dd of=$f bs=1 seek=60 conv=notrunc 2>/dev/null")
        let damaged = try deploy("app@third")
        #expect(
            damaged["link_sources_trusted"] as? Int == 0 && (damaged["link_sources_hashed"] as? Int ?? 0) >= 2,
            "\(damaged)")
        let renewed = try deploy("app@again")
        #expect(renewed["link_sources_trusted"] as? Int == 2, "\(renewed)")
    }

    /// Retention removing an old hardlinked deployment moves its sources' ctime; Fixity renews
    /// their stamps as it removes, so the next deploy still trusts them.
    @Test func retentionKeepsLinkSourceStampsValid() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        for name in ["again", "third"] {
            try sandbox.sh("mkdir \(name) && cp -a srcapp1/. \(name)/ && echo \(name) > \(name)/extra")
            _ = try sandbox.seal(name, extra: ["--tag", name])
        }
        for ref in ["app@1", "app@again"] {
            #expect(
                try sandbox.fixity("deploy", ref, "--root", "root", "--link", "hardlink", "--keep", "1").status == 0)
        }
        let third = try sandbox.fixity(
            "deploy", "app@third", "--root", "root", "--link", "hardlink", "--keep", "1", "--json")
        #expect(third.status == 0, "\(third.stderr)")
        let json = try third.json()
        #expect((json["removed"] as? [Any])?.isEmpty == false)
        #expect(json["link_sources_trusted"] as? Int == 2, "\(json)")
    }
}
