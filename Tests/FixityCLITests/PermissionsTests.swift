import Foundation
import Testing

/// Nothing Fixity writes is world-writable, and a private key's seed never leaves its file:
/// not into the ledger, its export, JSON output, proof bundles, OCI layouts or the database.
@Suite struct PermissionsTests {
    @Test func privateKeysNeverAppearOutsideTheirFile() throws {
        let sandbox = try Sandbox()
        #expect(try sandbox.fixity("key", "generate", "--out", "ci.key").status == 0)
        let seed =
            try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(sandbox.root)/ci.key")))
                    as? [String: Any])["seed"] as? String
        try sandbox.sh("mkdir -p src && echo v1 > src/VERSION")
        _ = try sandbox.seal("src", app: "app", extra: ["--tag", "1", "--sign", "ci.key"])
        var outputs = [RunResult]()
        outputs.append(try sandbox.fixity("sign", "app@1", "--key", "ci.key", "--json"))
        outputs.append(try sandbox.fixity("attest", "app@1", "--run", "true", "--key", "ci.key", "--json"))
        outputs.append(try sandbox.fixity("log", "checkpoint", "--key", "ci.key", "--json"))
        outputs.append(try sandbox.fixity("key", "public", "ci.key", "--json"))
        outputs.append(try sandbox.fixity("deploy", "app@1", "--root", "root", "--json"))
        outputs.append(try sandbox.fixity("signatures", "app@1", "--json"))
        outputs.append(try sandbox.fixity("log", "--json"))
        outputs.append(try sandbox.fixity("log", "export"))
        outputs.append(try sandbox.fixity("prove", "app@1", "--out", "bundle.json", "--key", "ci.key"))
        outputs.append(try sandbox.fixity("oci", "export", "app@1", "--out", "layout"))
        for output in outputs {
            #expect(output.status == 0, "\(output.stderr)")
            #expect(!output.stdout.contains(seed!) && !output.stderr.contains(seed!))
        }
        // Nor in any file outside the key file: store, database, bundle, layout, root.
        let hits = try sandbox.sh("grep -rlF -- '\(seed!)' . | grep -v '^./ci.key$' || true").stdout
        #expect(hits.isEmpty, "the seed leaked into: \(hits)")
    }

    @Test func nothingFixityWritesIsWorldWritable() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("umask 000 && mkdir -p src && echo v1 > src/VERSION && chmod 0666 src/VERSION")
        _ = try sandbox.seal("src", app: "app", extra: ["--tag", "1"])
        #expect(try sandbox.fixity("key", "generate", "--out", "k.key").status == 0)
        #expect(try sandbox.sh("umask 000 && '\(Sandbox.binary)' deploy app@1 --root root --store store").status == 0)
        // The release keeps its own bits (0666 was sealed, so the live file is 0666), but the
        // store's objects, folders, database and the key file are never writable by others.
        let writable = try sandbox.sh("find store k.key root/.fixity -perm -o+w ! -type l").stdout
        #expect(writable.isEmpty, "world-writable: \(writable)")
        #expect(try sandbox.sh("stat -c %a k.key").stdout == "600\n")
    }

    /// Another user (nobody, with a store of its own) tries every root command while root's
    /// deploy holds the root's lock: each fails at once saying the root is not writable by it
    /// — never waits on, takes or breaks the lock — and root's deploy finishes untouched.
    @Test(.enabled(if: Sandbox.isRoot, "needs root to run commands as another user (setpriv)"))
    func anotherUserRacingARootOwnedDeployFailsClearly() throws {
        let sandbox = try Sandbox()
        _ = try DeployTests.releases(sandbox, 2)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        try sandbox.sh("chmod 755 . && cp -a store nstore && chown -R 65534:65534 nstore")
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        let theirsBefore = try sandbox.fixity(["log", "export"], store: "\(sandbox.root)/nstore").stdout

        // Root's deploy, holding the lock through a health check that waits to be released.
        let deploy = Process()
        deploy.executableURL = URL(fileURLWithPath: Sandbox.binary)
        deploy.arguments = [
            "deploy", "app@2", "--root", "root", "--store", sandbox.store,
            "--health-cmd",
            "touch \(sandbox.root)/started; while [ ! -e \(sandbox.root)/release ]; do sleep 0.05; done",
        ]
        deploy.currentDirectoryURL = URL(fileURLWithPath: sandbox.root)
        deploy.standardOutput = FileHandle.nullDevice
        deploy.standardError = FileHandle.nullDevice
        try deploy.run()
        for _ in 0..<400 where !FileManager.default.fileExists(atPath: "\(sandbox.root)/started") { usleep(25_000) }
        #expect(
            FileManager.default.fileExists(atPath: "\(sandbox.root)/started"), "root's deploy reached its health check")

        for args in [
            ["deploy", "app@2", "--root", "root", "--lock-timeout", "30"],
            ["deploy", "app@1", "--root", "root", "--force"],
            ["rollback", "--root", "root"], ["rollback", "--root", "root", "--to", "app@1"],
            ["repair", "--root", "root"],
            ["status", "--root", "root"], ["verify", "--root", "root", "--full"],
        ] {
            let result = try sandbox.fixity(args, store: "\(sandbox.root)/nstore", prefix: nobody)
            #expect(
                result.status == 2 && result.stderr.contains("not writable by this user"), "\(args): \(result.stderr)")
        }
        try sandbox.sh("touch release")
        deploy.waitUntilExit()
        #expect(deploy.terminationStatus == 0, "root's deploy finished")
        #expect(try sandbox.sh("cat root/current/VERSION").stdout == "v2\n")
        #expect(try sandbox.fixity("verify", "--root", "root", "--full").status == 0)
        #expect(try sandbox.fixity("log", "verify").status == 0)
        #expect(
            try sandbox.fixity(["log", "export"], store: "\(sandbox.root)/nstore").stdout == theirsBefore,
            "the other user's store recorded nothing")
    }

    /// A user who is not root repairs a file and a folder it made unreadable to itself (mode
    /// 0000): the modes are reset through a descriptor of that inode (the O_PATH route, since it
    /// cannot open them for reading) and the tree is clean again.
    @Test(.enabled(if: Sandbox.isRoot, "needs root to run as another user (setpriv)"))
    func anUnprivilegedRepairResetsModesItCannotRead() throws {
        let sandbox = try Sandbox()
        try sandbox.sh(
            "chmod 755 . && mkdir -p src/d && echo v1 > src/VERSION && echo x > src/d/f && chown -R 65534:65534 .")
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        func run(_ args: [String]) throws -> RunResult { try sandbox.fixity(args, prefix: nobody) }
        #expect(try run(["seal", "src", "--app", "app", "--tag", "1"]).status == 0)
        #expect(try run(["deploy", "app@1", "--root", "root"]).status == 0)
        try sandbox.sh("setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'chmod 000 root/current/VERSION'")
        let drift = try run(["verify", "--root", "root", "--json"])
        let modes = try drift.json()["mode_changed"] as? [String]
        #expect(drift.status == 1 && modes == ["VERSION"], "\(drift.stdout) \(drift.stderr)")
        let repair = try run(["repair", "--root", "root"])
        #expect(repair.status == 0, "\(repair.stderr)")
        #expect(try sandbox.sh("stat -c %a root/current/VERSION").stdout == "644\n")
        #expect(try run(["verify", "--root", "root", "--full"]).status == 0)
    }
}
