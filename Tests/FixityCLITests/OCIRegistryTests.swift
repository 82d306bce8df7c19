import Foundation
import Testing

/// `oci push`, `oci verify` and `oci import` from a registry, against a real CNCF Distribution
/// registry on a loopback port, with skopeo as the independent client.
@Suite(.serialized) struct OCIRegistryTests {
    func digest(_ result: RunResult) -> String { result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Keys ci and alice, app@1 signed by ci, a policy: staging needs one of them, production two.
    func signedRelease(_ sandbox: Sandbox) throws -> String {
        for name in ["ci", "alice"] {
            #expect(try sandbox.fixity("key", "generate", "--out", "\(name).key").status == 0)
        }
        try sandbox.sh(
            "mkdir -p src/bin && echo v1 > src/VERSION && printf '#!/bin/sh\\necho ok\\n' > src/bin/run && chmod 755 src/bin/run"
        )
        let release = try sandbox.seal("src", app: "app", extra: ["--tag", "1", "--sign", "ci.key"])
        let ci = try sandbox.fixity("key", "public", "ci.key").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let alice = try sandbox.fixity("key", "public", "alice.key").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        try """
        [keys]
        ci = "\(ci)"
        alice = "\(alice)"

        [environments.staging]
        trusted_keys = ["ci", "alice"]
        threshold = 1

        [environments.production]
        trusted_keys = ["ci", "alice"]
        threshold = 2

        """.write(toFile: "\(sandbox.root)/policy.toml", atomically: true, encoding: .utf8)
        #expect(try sandbox.fixity("policy", "set", "policy.toml").status == 0)
        return release
    }

    @Test func pushSkipsWhatTheRegistryHasAndSkopeoReadsIt() throws {
        let sandbox = try Sandbox()
        let registry = try TestRegistry(in: sandbox)
        let release = try signedRelease(sandbox)
        let exported = digest(try sandbox.fixity("oci", "export", "app@1", "--out", "layout"))
        let push = try sandbox.fixity("oci", "push", "app@1", "\(registry.address)/shop/app:1", "--insecure", "--json")
        #expect(push.status == 0, "\(push.stderr)")
        let report = try push.json()
        #expect(report["image"] as? String == exported, "push and export give the same digest")
        #expect((report["uploaded"] as? [Any])?.count == 2 && (report["referrers"] as? [Any])?.count == 1)

        let inspect = try sandbox.sh("skopeo inspect --tls-verify=false docker://\(registry.address)/shop/app:1").stdout
        #expect(inspect.contains(exported))
        try sandbox.sh("skopeo copy --src-tls-verify=false docker://\(registry.address)/shop/app:1 oci:copied:1")
        #expect(try sandbox.sh("skopeo inspect oci:copied:1").stdout.contains(exported))

        // The second push uploads nothing: every blob is already there.
        let again = try sandbox.fixity("oci", "push", "app@1", "\(registry.address)/shop/app:1", "--insecure", "--json")
            .json()
        #expect((again["uploaded"] as? [Any])?.isEmpty == true && (again["skipped"] as? [Any])?.count == 2)

        // The signature is a referrer: through the registry's referrers API where it has one, or
        // the spec's fallback tag (Distribution 2.x), which any client can list.
        let hex = String(exported.dropFirst(7))
        let referrers = try sandbox.sh(
            "skopeo inspect --raw --tls-verify=false docker://\(registry.address)/shop/app:sha256-\(hex) 2>/dev/null || curl -fsS http://\(registry.address)/v2/shop/app/referrers/\(exported)"
        ).stdout
        #expect(referrers.contains("application/vnd.dsse.envelope.v1+json"), "\(referrers)")

        // Importing the pushed image gives back the same release.
        let imported = try sandbox.fixity(
            "oci", "import", "\(registry.address)/shop/app@\(exported)", "--insecure", "--app", "from-registry",
            "--json")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try imported.json()["release"] as? String == release)
        #expect(try sandbox.fixity("log", "verify").status == 0)
        #expect(try sandbox.fixity("log").stdout.contains("oci-push"))
    }

    @Test func aNewReleaseOnAnUnchangedBaseUploadsOnlyItsOwnLayer() throws {
        let sandbox = try Sandbox()
        let registry = try TestRegistry(in: sandbox)
        try sandbox.sh("mkdir -p base/usr/lib && head -c 100000 /dev/urandom > base/usr/lib/libbig.so")
        _ = try sandbox.seal("base", app: "base", extra: ["--tag", "1"])
        let base = digest(try sandbox.fixity("oci", "export", "base@1", "--out", "base-layout"))
        for n in 1...2 {
            try sandbox.sh("mkdir -p app\(n) && echo v\(n) > app\(n)/VERSION")
            _ = try sandbox.seal("app\(n)", app: "app", extra: ["--tag", "\(n)"])
        }
        let first = try sandbox.fixity(
            "oci", "push", "app@1", "\(registry.address)/app:1", "--insecure", "--base", "base-layout@\(base)", "--json"
        ).json()
        #expect((first["uploaded"] as? [Any])?.count == 3, "base layer, own layer, config")
        // The same base, named in the registry this time (copied into a scratch layout, verified).
        #expect(try sandbox.fixity("oci", "push", "base@1", "\(registry.address)/base:1", "--insecure").status == 0)
        let second = try sandbox.fixity(
            "oci", "push", "app@2", "\(registry.address)/app:2", "--insecure", "--base",
            "\(registry.address)/base@\(base)", "--json"
        ).json()
        #expect((second["uploaded"] as? [Any])?.count == 2, "only its own layer and config: \(second)")
        #expect((second["skipped"] as? [Any])?.count == 1)
    }

    @Test func largeLayersGoUpInChunksAndComeBackWhole() throws {
        let sandbox = try Sandbox()
        let registry = try TestRegistry(in: sandbox)
        // Random bytes do not compress: a layer of about 20 MiB, above the 8 MiB chunk size.
        try sandbox.sh("mkdir -p big && head -c 20000000 /dev/urandom > big/data.bin && echo small > big/README")
        let release = try sandbox.seal("big", app: "big", extra: ["--tag", "1"])
        let image = digest(try sandbox.fixity("oci", "push", "big@1", "\(registry.address)/big:1", "--insecure"))
        #expect(image.hasPrefix("sha256:"))
        try sandbox.sh("skopeo copy --src-tls-verify=false docker://\(registry.address)/big:1 oci:copied:1")
        #expect(try sandbox.sh("skopeo inspect oci:copied:1").stdout.contains(image))
        let imported = try sandbox.fixity("oci", "import", "copied", "--app", "big-again", "--json")
        #expect(try imported.json()["release"] as? String == release)
    }

    @Test func verifyChecksReferrersAgainstThePolicy() throws {
        let sandbox = try Sandbox()
        let registry = try TestRegistry(in: sandbox)
        _ = try signedRelease(sandbox)
        let image = digest(try sandbox.fixity("oci", "push", "app@1", "\(registry.address)/app:1", "--insecure"))
        let staging = try sandbox.fixity(
            "oci", "verify", "\(registry.address)/app@\(image)", "--env", "staging", "--insecure")
        #expect(staging.status == 0, "\(staging.stdout) \(staging.stderr)")
        // Production needs two signatures; the registry holds one.
        let production = try sandbox.fixity(
            "oci", "verify", "\(registry.address)/app@\(image)", "--env", "production", "--insecure")
        #expect(production.status == 1 && production.stderr.contains("2 signatures"), "\(production.stderr)")
        // A second signature, pushed again, is attached as another referrer: now allowed.
        #expect(try sandbox.fixity("sign", "app@1", "--key", "alice.key").status == 0)
        #expect(try sandbox.fixity("oci", "push", "app@1", "\(registry.address)/app:1", "--insecure").status == 0)
        let now = try sandbox.fixity(
            "oci", "verify", "\(registry.address)/app@\(image)", "--env", "production", "--insecure")
        #expect(now.status == 0, "\(now.stdout) \(now.stderr)")
        // A tag is not a pin.
        let byTag = try sandbox.fixity("oci", "verify", "\(registry.address)/app:1", "--env", "staging", "--insecure")
        #expect(byTag.status == 2 && byTag.stderr.contains("@sha256"))
    }

    @Test func credentialsAndRefusals() throws {
        let sandbox = try Sandbox()
        let registry = try TestRegistry(in: sandbox, auth: ("ops", "s3cret"))
        try sandbox.sh("mkdir -p src && echo v1 > src/VERSION")
        _ = try sandbox.seal("src", app: "app", extra: ["--tag", "1"])
        // No credentials: the registry's answer, status and message, is shown.
        let anonymous = try sandbox.fixity("oci", "push", "app@1", "\(registry.address)/app:1", "--insecure")
        #expect(anonymous.status == 2 && anonymous.stderr.contains("credentials"), "\(anonymous.stderr)")
        let wrong = try sandbox.sh(
            "echo nope | '\(Sandbox.binary)' oci push app@1 \(registry.address)/app:1 --insecure --username ops --password-stdin --store store || true"
        )
        #expect(wrong.stderr.contains("401"), "\(wrong.stderr)")
        let right = try sandbox.sh(
            "echo s3cret | '\(Sandbox.binary)' oci push app@1 \(registry.address)/app:1 --insecure --username ops --password-stdin --store store"
        )
        #expect(right.stdout.hasPrefix("sha256:"))
        // Plain HTTP only to loopback; an unreachable registry is a clear error.
        let remote = try sandbox.fixity("oci", "push", "app@1", "registry.example.com/app:1", "--insecure")
        #expect(remote.status == 2 && remote.stderr.contains("loopback"), "\(remote.stderr)")
        let down = try sandbox.fixity("oci", "push", "app@1", "127.0.0.1:9/app:1", "--insecure")
        #expect(down.status == 2 && down.stderr.contains("127.0.0.1:9"), "\(down.stderr)")
        let badName = try sandbox.fixity("oci", "push", "app@1", "\(registry.address)/App:1", "--insecure")
        #expect(badName.status == 2 && badName.stderr.contains("repository"))
    }

    /// An image that names a signed release in its annotation and config but carries another
    /// tree in its layer is refused: verify binds the claim to the bytes (issue 14 item 13).
    @Test func anImageWhoseLayerIsNotItsReleaseIsRefused() throws {
        let sandbox = try Sandbox()
        let registry = try TestRegistry(in: sandbox)
        let release = try signedRelease(sandbox)
        #expect(try sandbox.fixity("oci", "push", "app@1", "\(registry.address)/app:1", "--insecure").status == 0)
        try sandbox.sh("mkdir -p evil && echo pwned > evil/VERSION")
        _ = try sandbox.seal("evil", app: "evil", extra: ["--tag", "1"])
        #expect(try sandbox.fixity("oci", "export", "evil@1", "--out", "forged").status == 0)
        let forge = """
            import hashlib, json, os, sys
            release = sys.argv[1]
            def blob(data):
                d = hashlib.sha256(data).hexdigest()
                open("forged/blobs/sha256/" + d, "wb").write(data)
                return "sha256:" + d, len(data)
            index = json.load(open("forged/index.json"))
            m = json.load(open("forged/blobs/sha256/" + index["manifests"][0]["digest"][7:]))
            c = json.load(open("forged/blobs/sha256/" + m["config"]["digest"][7:]))
            c["history"][-1]["created_by"] = "fixity oci export " + release
            m["config"]["digest"], m["config"]["size"] = blob(json.dumps(c, separators=(",", ":"), sort_keys=True).encode())
            m["annotations"]["dev.fixity.release"] = release
            index["manifests"][0]["digest"], index["manifests"][0]["size"] = blob(json.dumps(m, separators=(",", ":"), sort_keys=True).encode())
            json.dump(index, open("forged/index.json", "w"))
            print(index["manifests"][0]["digest"])
            """
        try forge.write(toFile: "\(sandbox.root)/forge.py", atomically: true, encoding: .utf8)
        let forged = try sandbox.sh("python3 forge.py \(release)").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        try sandbox.sh(
            "skopeo copy --preserve-digests --dest-tls-verify=false oci:forged docker://\(registry.address)/app:forged")
        let verify = try sandbox.fixity(
            "oci", "verify", "\(registry.address)/app@\(forged)", "--env", "staging", "--insecure")
        #expect(
            verify.status == 2 && verify.stderr.contains("its layer is not that release"),
            "\(verify.stdout) \(verify.stderr)")
        // The genuine image still verifies; a store without the release cannot bind and refuses.
        let genuine = digest(try sandbox.fixity("oci", "push", "app@1", "\(registry.address)/app:1", "--insecure"))
        #expect(
            try sandbox.fixity("oci", "verify", "\(registry.address)/app@\(genuine)", "--env", "staging", "--insecure")
                .status == 0)
    }
}
