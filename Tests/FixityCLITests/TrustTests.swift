import Foundation
import Testing

/// Keys, signatures, attestations and the per-environment policy, end to end; and interop with
/// an independent DSSE implementation (securesystemslib from PyPI) in both directions.
@Suite struct TrustTests {
    /// A sandbox with keys `ci` and `alice`, release app@1 sealed and signed by ci, and a policy:
    /// staging needs 1 of (ci, alice); production 2 of them, known-good in staging, passing tests.
    func promoted() throws -> Sandbox {
        let sandbox = try Sandbox()
        for name in ["ci", "alice"] {
            #expect(try sandbox.fixity("key", "generate", "--out", "\(name).key").status == 0)
        }
        try sandbox.sh("mkdir -p src && echo v1 > src/VERSION")
        #expect(try sandbox.fixity("seal", "src", "--app", "app", "--tag", "1", "--sign", "ci.key").status == 0)
        try writePolicy(sandbox, keys: ["ci", "alice"])
        return sandbox
    }

    func publicKey(_ sandbox: Sandbox, _ name: String) throws -> String {
        try sandbox.fixity("key", "public", "\(name).key").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func writePolicy(_ sandbox: Sandbox, keys: [String], productionThreshold: Int = 2) throws {
        let keyLines = try keys.map { "\($0) = \"\(try publicKey(sandbox, $0))\"" }.joined(separator: "\n")
        let list = keys.map { "\"\($0)\"" }.joined(separator: ", ")
        let text = """
            [keys]
            \(keyLines)

            [environments.staging]
            trusted_keys = [\(list)]
            threshold = 1

            [environments.production]
            trusted_keys = [\(list)]
            threshold = \(productionThreshold)
            require_known_good_in = ["staging"]
            require_tests = true

            """
        try text.write(toFile: "\(sandbox.root)/policy.toml", atomically: true, encoding: .utf8)
        let set = try sandbox.fixity("policy", "set", "policy.toml")
        #expect(set.status == 0, "\(set.stderr)")
    }

    /// Re-sealing the same tree without a key records nothing new about it: the first seal's
    /// provenance stands. A re-seal with a key does add its signed provenance.
    @Test func resealWithoutAKeyAddsNoProvenanceEntry() throws {
        let sandbox = try Sandbox()
        #expect(try sandbox.fixity("key", "generate", "--out", "ci.key").status == 0)
        try sandbox.sh("mkdir -p src && echo v1 > src/VERSION")
        func envelopes() throws -> Int {
            (try sandbox.fixity("signatures", "app@1", "--json").json()["records"] as? [Any])?.count ?? -1
        }
        func signEntries() throws -> Int {
            try sandbox.fixity("log", "export").stdout.split(separator: "\n").filter {
                $0.contains(#""action":"sign""#)
            }.count
        }
        for _ in 0..<3 { #expect(try sandbox.fixity("seal", "src", "--app", "app", "--tag", "1").status == 0) }
        #expect(try envelopes() == 1, "one unsigned provenance for three seals of one tree")
        #expect(try signEntries() == 1)
        #expect(try sandbox.fixity("seal", "src", "--app", "app", "--tag", "1", "--sign", "ci.key").status == 0)
        #expect(try envelopes() == 2, "a signed re-seal is recorded")
        #expect(try signEntries() == 2)
    }

    /// A seal's provenance names the git checkout the folder is in: its remote, commit, the
    /// folder's path in it and whether it has uncommitted changes below that folder; a folder in
    /// no checkout names no source.
    @Test func provenanceNamesTheGitCheckout() throws {
        let sandbox = try Sandbox()
        #expect(try sandbox.fixity("key", "generate", "--out", "ci.key").status == 0)
        try sandbox.sh(
            """
            mkdir -p repo/app/build outside && echo v1 > repo/app/build/VERSION && echo v1 > outside/VERSION
            cd repo && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm one
            git remote add origin https://example.com/shop.git && echo stray > untracked-at-top
            """)
        let head = try sandbox.sh("git -C repo rev-parse HEAD").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        func source(_ folder: String, version: String) throws -> [String: Any]? {
            #expect(
                try sandbox.fixity("seal", folder, "--app", "app", "--tag", version, "--sign", "ci.key").status == 0)
            let records = try #require(
                try sandbox.fixity("signatures", "app@\(version)", "--json").json()["records"] as? [[String: Any]])
            let envelope = try #require(records.last?["envelope"] as? [String: Any])
            let encoded = try #require(envelope["payload"] as? String)
            let payload = try #require(Data(base64Encoded: encoded))
            let statement = try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
            let predicate = try #require(statement["predicate"] as? [String: Any])
            let definition = try #require(predicate["buildDefinition"] as? [String: Any])
            let dependencies = try #require(definition["resolvedDependencies"] as? [[String: Any]])
            return dependencies.first
        }
        let clean = try #require(try source("repo/app/build", version: "1"))
        #expect(clean["uri"] as? String == "git+https://example.com/shop.git")
        #expect((clean["digest"] as? [String: Any])?["gitCommit"] as? String == head)
        let annotations = clean["annotations"] as? [String: Any]
        #expect(annotations?["path"] as? String == "app/build/")
        #expect(
            annotations?["dirty"] as? Bool == false, "an untracked file outside the sealed folder is not its change")
        try sandbox.sh("echo v2 > repo/app/build/VERSION")
        let dirty = try #require(try source("repo/app/build", version: "2"))
        #expect((dirty["annotations"] as? [String: Any])?["dirty"] as? Bool == true)
        #expect(try source("outside", version: "3") == nil, "a folder in no checkout names no source")
    }

    @Test func keyFilesArePrivateAndNeverOverwritten() throws {
        let sandbox = try Sandbox()
        #expect(try sandbox.fixity("key", "generate", "--out", "k.key").status == 0)
        #expect(try sandbox.sh("stat -c %a k.key").stdout == "600\n")
        let again = try sandbox.fixity("key", "generate", "--out", "k.key")
        #expect(again.status == 2 && again.stderr.contains("already exists"))
        let json = try sandbox.fixity("key", "public", "k.key", "--json").json()
        let publicKey = try #require(json["public_key"] as? String)
        #expect(Data(base64Encoded: publicKey)?.count == 32)
        #expect((json["id"] as? String)?.count == 64)
        #expect(
            !(try sandbox.fixity("key", "public", "k.key", "--json").stdout.contains("seed")),
            "a private key in JSON output")
        try sandbox.sh("chmod 644 k.key")
        let open = try sandbox.fixity("key", "public", "k.key")
        #expect(open.status == 2 && open.stderr.contains("must not be readable by others"))
        try sandbox.sh("chmod 600 k.key && head -c 50 k.key > short.key && chmod 600 short.key")
        let short = try sandbox.fixity("sign", "x", "--key", "short.key")
        #expect(short.status == 2 && short.stderr.contains("short.key"))
    }

    @Test func stagingThenProductionPromotionPath() throws {
        let sandbox = try promoted()
        let refused = try sandbox.fixity("deploy", "app@1", "--root", "prod", "--env", "production")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("needs 2 signatures from trusted keys of production (ci, alice), has 1: ci"))
        #expect(refused.stderr.contains("never known-good in staging"))
        #expect(refused.stderr.contains("no passing test attestation"))
        #expect(
            try sandbox.sh("ls prod/current 2>/dev/null || echo none").stdout == "none\n",
            "refused deploy touched the root")

        #expect(
            try sandbox.fixity(
                "deploy", "app@1", "--root", "stage", "--env", "staging", "--health-cmd", "test -f VERSION"
            ).status == 0)
        #expect(try sandbox.fixity("sign", "app@1", "--key", "alice.key", "--role", "qa").status == 0)
        let failing = try sandbox.fixity("attest", "app@1", "--run", "test \"$(cat VERSION)\" = v2", "--key", "ci.key")
        #expect(failing.status == 1)
        let stillRefused = try sandbox.fixity("deploy", "app@1", "--root", "prod", "--env", "production")
        #expect(stillRefused.status == 2 && stillRefused.stderr.contains("no passing test attestation"))
        let passing = try sandbox.fixity(
            "attest", "app@1", "--run", "test \"$(cat VERSION)\" = v1", "--key", "ci.key", "--json")
        #expect(passing.status == 0)
        #expect(try passing.json()["passed"] as? Bool == true)
        let deployed = try sandbox.fixity("deploy", "app@1", "--root", "prod", "--env", "production")
        #expect(deployed.status == 0, "\(deployed.stderr)")
        let log = try sandbox.fixity("log", "--json").stdout
        #expect(log.contains("\"policy\""), "deploy entries name the policy they were checked under")
    }

    @Test func removingAKeyStopsItsSignaturesCountingFromThatMoment() throws {
        let sandbox = try promoted()
        #expect(
            try sandbox.fixity(
                "deploy", "app@1", "--root", "stage", "--env", "staging", "--health-cmd", "test -f VERSION"
            ).status == 0)
        #expect(try sandbox.fixity("sign", "app@1", "--key", "alice.key").status == 0)
        #expect(try sandbox.fixity("attest", "app@1", "--run", "true", "--key", "ci.key").status == 0)
        try writePolicy(sandbox, keys: ["alice"], productionThreshold: 1)
        try sandbox.sh("mkdir -p src2 && echo v2 > src2/VERSION")
        #expect(try sandbox.fixity("seal", "src2", "--app", "app", "--tag", "2", "--sign", "ci.key").status == 0)
        let rotated = try sandbox.fixity(
            "deploy", "app@2", "--root", "stage", "--env", "staging", "--health-cmd", "test -f VERSION")
        #expect(rotated.status == 2 && rotated.stderr.contains("has 0"), "ci was removed: its signature must not count")
        #expect(try sandbox.fixity("policy", "history", "--json").json()["policies"].map { ($0 as? [Any])?.count } == 2)
    }

    @Test func rollbackByNameIsCheckedAgainstThePolicyInForce() throws {
        let sandbox = try promoted()
        try sandbox.sh("mkdir -p src3 && echo v3 > src3/VERSION && mkdir -p src4 && echo v4 > src4/VERSION")
        #expect(try sandbox.fixity("seal", "src3", "--app", "app", "--tag", "3", "--sign", "ci.key").status == 0)
        #expect(
            try sandbox.fixity(
                "deploy", "app@3", "--root", "stage", "--env", "staging", "--health-cmd", "test -f VERSION"
            ).status == 0)
        // ci is rotated out; app@4 is signed by alice, who stays.
        try writePolicy(sandbox, keys: ["alice"], productionThreshold: 1)
        #expect(try sandbox.fixity("seal", "src4", "--app", "app", "--tag", "4", "--sign", "alice.key").status == 0)
        #expect(
            try sandbox.fixity(
                "deploy", "app@4", "--root", "stage", "--env", "staging", "--health-cmd", "test -f VERSION"
            ).status == 0)
        let named = try sandbox.fixity("rollback", "--root", "stage", "--to", "app@3")
        #expect(
            named.status == 2 && named.stderr.contains("refuses staging") && named.stderr.contains("has 0"),
            "\(named.stderr)")
        #expect(try sandbox.sh("cat stage/current/VERSION").stdout == "v4\n", "a refused rollback switched the root")
        // The automatic rollback returns to the last known-good state, which already passed.
        #expect(try sandbox.fixity("rollback", "--root", "stage").status == 0)
        #expect(try sandbox.sh("cat stage/current/VERSION").stdout == "v3\n")
    }

    @Test func badPoliciesAndEnvelopesAreRefusedNamingTheProblem() throws {
        let sandbox = try promoted()
        let key = try publicKey(sandbox, "ci")
        let cases: [(String, String)] = [
            (
                "[keys]\nci = \"\(key)\"\n[environments.p]\ntrusted_keys = [\"ci\"]\nthreshold = 2\n",
                "larger than its 1 trusted keys"
            ),
            (
                "[keys]\nci = \"\(key)\"\n[environments.p]\ntrusted_keys = [\"ci\"]\nthreshhold = 1\n",
                "unknown field environments.p.threshhold"
            ),
            ("[keys]\nci = \"ed25519:AAAA\"\n", "keys.ci"),
            ("[nonsense]\n", "unknown section"),
        ]
        for (text, message) in cases {
            try text.write(toFile: "\(sandbox.root)/bad.toml", atomically: true, encoding: .utf8)
            let result = try sandbox.fixity("policy", "set", "bad.toml")
            #expect(result.status == 2 && result.stderr.contains(message), "\(text): \(result.stderr)")
        }
        // An envelope about another release, a wrong payload type, and garbage.
        try sandbox.sh("mkdir -p other && echo o > other/o")
        let otherID = try sandbox.seal("other", app: "other", extra: ["--sign", "ci.key"])
        let otherEnvelope = try #require(
            (try sandbox.fixity("signatures", otherID, "--json").json()["signatures"] as? [Any])?.first)
        try JSONSerialization.data(withJSONObject: otherEnvelope).write(
            to: URL(fileURLWithPath: "\(sandbox.root)/other.json"))
        let misdirected = try sandbox.fixity("sign", "app@1", "--envelope", "other.json")
        #expect(misdirected.status == 2 && misdirected.stderr.contains("not release"))
        try sandbox.sh(
            "sed 's#vnd.in-toto+json#plain#' other.json > retyped.json && echo '{\"payload\": 1}' > garbage.json")
        let retyped = try sandbox.fixity("sign", "app@1", "--envelope", "retyped.json")
        #expect(retyped.status == 2 && retyped.stderr.contains("payload type"))
        let garbage = try sandbox.fixity("sign", "app@1", "--envelope", "garbage.json")
        #expect(garbage.status == 2 && garbage.stderr.contains("not a DSSE envelope"))
    }

    /// securesystemslib verifies what Fixity signed, and Fixity counts what securesystemslib signed.
    @Test func envelopesInteroperateWithSecureSystemsLib() throws {
        let sandbox = try promoted()
        let release = try #require(try sandbox.fixity("show", "app@1", "--json").json()["release"] as? String)
        let ours = try sandbox.fixity("signatures", "app@1", "--json")
        try ours.stdout.write(toFile: "\(sandbox.root)/ours.json", atomically: true, encoding: .utf8)
        let script = """
            import base64, json, sys
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            from securesystemslib.dsse import Envelope
            from securesystemslib.signer import CryptoSigner, SSlibKey
            def key_of(path):
                data = json.load(open(path))
                public = base64.b64decode(data["public_key"]).hex()
                return data, SSlibKey(data["key_id"], "ed25519", "ed25519", {"public": public})
            ci, ci_key = key_of("ci.key")
            envelope = Envelope.from_dict(json.load(open("ours.json"))["signatures"][0])
            verified = envelope.verify([ci_key], 1)
            assert ci["key_id"] in verified, verified
            statement = json.loads(envelope.payload)
            assert statement["subject"][0]["digest"]["sha256"] == "\(release.dropFirst(7))"
            alice, alice_key = key_of("alice.key")
            private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(alice["seed"]))
            signer = CryptoSigner(private, alice_key)
            theirs = Envelope(json.dumps({"_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "app", "digest": {"sha256": "\(release.dropFirst(7))"}}],
                "predicateType": "https://fixity.dev/attestation/release/v1", "predicate": {"by": "securesystemslib"}}).encode(),
                "application/vnd.in-toto+json", {})
            theirs.sign(signer)
            json.dump(theirs.to_dict(), open("theirs.json", "w"))
            print("ok")
            """
        try script.write(toFile: "\(sandbox.root)/interop.py", atomically: true, encoding: .utf8)
        let python = try sandbox.sh("python3 interop.py")
        #expect(python.status == 0 && python.stdout == "ok\n", "securesystemslib: \(python.stderr)")
        #expect(try sandbox.fixity("sign", "app@1", "--envelope", "theirs.json").status == 0)
        // Staging needs one trusted signature: count it from alice's envelope alone, after rotating ci out.
        try writePolicy(sandbox, keys: ["alice"], productionThreshold: 1)
        let deployed = try sandbox.fixity(
            "deploy", "app@1", "--root", "stage", "--env", "staging", "--health-cmd", "test -f VERSION")
        #expect(deployed.status == 0, "Fixity did not count securesystemslib's signature: \(deployed.stderr)")
    }
}
