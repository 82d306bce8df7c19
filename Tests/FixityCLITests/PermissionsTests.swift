import Foundation
import Testing

/// Nothing Fixity writes is world-writable, and a private key's seed never leaves its file:
/// not into the ledger, its export, JSON output, proof bundles, OCI layouts or the database.
@Suite struct PermissionsTests {
    @Test func privateKeysNeverAppearOutsideTheirFile() throws {
        let sandbox = try Sandbox()
        #expect(try sandbox.fixity("key", "generate", "--out", "ci.key").status == 0)
        let seed = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(sandbox.root)/ci.key"))) as? [String: Any])["seed"] as? String
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
}
