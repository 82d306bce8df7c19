import Foundation
import Testing

/// Bad input to deploy: exit 2, a clear message, and the root exactly as it was.
@Suite struct DeployBadInputTests {
    /// A root with app@1 active, and app@2 sealed but not deployed.
    func deployedRoot() throws -> Sandbox {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        let first = try sandbox.fixity("deploy", "app@1", "--root", "root")
        try #require(first.status == 0, "\(first.stderr)")
        return sandbox
    }

    /// The root's listing and current target, to compare before and after a refusal.
    func snapshot(_ sandbox: Sandbox) throws -> String {
        try sandbox.sh("readlink root/current; ls -A root/deployments").stdout
    }

    func expectRefused(_ sandbox: Sandbox, _ args: [String], mentioning fragments: [String]) throws {
        let before = try snapshot(sandbox)
        let result = try sandbox.fixity(args)
        #expect(result.status == 2, "exit \(result.status): \(result.stderr)")
        for fragment in fragments {
            #expect(result.stderr.contains(fragment), "stderr lacks '\(fragment)': \(result.stderr)")
        }
        #expect(try snapshot(sandbox) == before, "the root changed")
    }

    @Test func unknownRefIsRefused() throws {
        let sandbox = try deployedRoot()
        try expectRefused(sandbox, ["deploy", "app@9", "--root", "root"], mentioning: ["no tag app@9"])
        try expectRefused(
            sandbox, ["deploy", "app@1", "--root", "root", "--config", "cfg@1"], mentioning: ["no tag cfg@1"])
    }

    @Test func corruptObjectAbortsTheDeployAndRemovesTheHalfWrittenTree() throws {
        let sandbox = try deployedRoot()
        let blob = try sandbox.sh("sha256sum srcapp2/VERSION | cut -c1-64").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let object = "store/objects/sha256/\(blob.prefix(2))/\(blob.dropFirst(2))"
        try sandbox.sh("chmod u+w \(object) && echo tampered > \(object)")
        // Named by release and path, not only by object digest.
        try expectRefused(
            sandbox, ["deploy", "app@2", "--root", "root", "--link", "copy"],
            mentioning: ["corrupt", String(blob.prefix(12)), "deploying release", "VERSION"])
        #expect(
            try sandbox.sh("ls -A root/deployments | grep -c incoming || true").stdout.trimmingCharacters(
                in: .whitespacesAndNewlines) == "0")
    }

    @Test func rootThatIsAFileOrASymlinkIsRefused() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        try sandbox.sh("echo x > afile && mkdir real && ln -s real alink")
        let file = try sandbox.fixity("deploy", "app@1", "--root", "afile")
        #expect(file.status == 2 && file.stderr.contains("afile") && file.stderr.contains("not a folder"))
        let link = try sandbox.fixity("deploy", "app@1", "--root", "alink")
        #expect(link.status == 2 && link.stderr.contains("symlink"))
        #expect(try sandbox.sh("ls -A real").stdout.isEmpty)
    }

    @Test func rootNotWritableIsRefused() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 1)
        try sandbox.sh("mkdir locked && chmod 555 locked")
        if Sandbox.isRoot {
            try sandbox.sh("chmod 755 . && chown -R 65534:65534 store")
            let result = try sandbox.fixity(
                ["deploy", "app@1", "--root", "locked"],
                prefix: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
            #expect(result.status == 2 && result.stderr.contains("not writable"), "\(result.stderr)")
        } else {
            let result = try sandbox.fixity("deploy", "app@1", "--root", "locked")
            #expect(result.status == 2 && result.stderr.contains("not writable"))
        }
        #expect(try sandbox.sh("ls -A locked").stdout.isEmpty)
    }

    @Test func configThatWouldOverwriteAppFilesIsRefused() throws {
        let sandbox = try deployedRoot()
        try sandbox.sh("mkdir cfg && echo evil > cfg/run")
        _ = try sandbox.seal("cfg", app: "cfg", extra: ["--tag", "1"])
        try expectRefused(
            sandbox, ["deploy", "app@2", "--root", "root", "--config", "cfg@1", "--config-path", "bin"],
            mentioning: ["overwrite", "bin/run"])
    }

    /// A release that cannot deploy must not exist: `seal` parses fixity.toml with the deploy's
    /// own parser and refuses it (exit 2), recording nothing.
    @Test func fixityTomlThatCannotDeployIsRefusedAtSeal() throws {
        let sandbox = try deployedRoot()
        let before = try sandbox.fixity("releases", "--json").stdout
        for (toml, fragment) in [
            ("[deploy\\nhealth_cmd = \\n", "does not parse"), ("[deploy]\\nkeep = \"many\"\\n", "deploy.keep"),
            ("[deploy]\\nhealth_command = \"true\"\\n", "unknown key deploy.health_command"),
            ("[drift]\\nignore = 3\\n", "drift.ignore"),
            // Headers that made the TOML parser abort the process (toml++ before #301): exit 2 now.
            ("[[[1]]]\\n", "table header"), ("[[=\\n", "table header"), ("x = 1\\n[{a}]\\n", "line 2"),
        ] {
            try sandbox.sh(
                "rm -rf broken && mkdir broken && echo v3 > broken/VERSION && printf '\(toml)' > broken/fixity.toml")
            let result = try sandbox.fixity("seal", "broken", "--app", "app", "--tag", "broken")
            #expect(result.status == 2, "\(toml): \(result.stderr)")
            #expect(
                result.stderr.contains("fixity.toml") && result.stderr.contains(fragment)
                    && result.stderr.contains("nothing was sealed"), "\(result.stderr)")
        }
        #expect(try sandbox.fixity("releases", "--json").stdout == before, "a refused seal recorded a release")
        #expect(try sandbox.fixity("gc", "--dry-run").status == 0)
    }

    @Test func statusAndRollbackOfAMissingRootAreRefusedWithoutCreatingIt() throws {
        let sandbox = try Sandbox()
        for args in [["status", "--root", "nowhere"], ["rollback", "--root", "nowhere"]] {
            let result = try sandbox.fixity(args)
            #expect(result.status == 2 && result.stderr.contains("nowhere") && result.stderr.contains("does not exist"))
        }
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.root)/nowhere"))
    }

    @Test func badFlagsAreUsageErrors() throws {
        let sandbox = try deployedRoot()
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root", "--link", "teleport").status == 64)
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root", "--keep", "0").status == 64)
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root", "--config-path", "etc").status == 64)
    }
}
