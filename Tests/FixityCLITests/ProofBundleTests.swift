import Foundation
import Testing

/// `prove REF --out FILE` and `verify-bundle FILE --key`: a proof an auditor checks offline.
@Suite struct ProofBundleTests {
    /// A signed, tagged, deployed release and a bundle for it; returns (sandbox, release, keys).
    func bundled() throws -> (Sandbox, String, [String]) {
        let sandbox = try Sandbox()
        #expect(try sandbox.fixity("key", "generate", "--out", "release.key").status == 0)
        #expect(try sandbox.fixity("key", "generate", "--out", "log.key").status == 0)
        try sandbox.sh("mkdir -p src && echo v1 > src/VERSION")
        let release = try sandbox.seal("src", app: "web", extra: ["--tag", "1", "--sign", "release.key"])
        #expect(try sandbox.fixity("deploy", "web@1", "--root", "root").status == 0)
        let keys = try ["release.key", "log.key"].map { file -> String in
            let json = try sandbox.fixity("key", "public", file, "--json").json()
            return "ed25519:" + (json["public_key"] as? String ?? "")
        }
        // Without a checkpoint nothing proves the entries to anyone: refused, saying what to do.
        let refused = try sandbox.fixity("prove", "web@1", "--out", "bundle.json")
        #expect(refused.status == 2 && refused.stderr.contains("log checkpoint"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.root)/bundle.json"))
        let made = try sandbox.fixity("prove", "web@1", "--out", "bundle.json", "--key", "log.key")
        #expect(made.status == 0, "\(made.stderr)")
        return (sandbox, release, keys)
    }

    func verifyBundle(_ sandbox: Sandbox, _ keys: [String], file: String = "bundle.json") throws -> RunResult {
        try sandbox.fixity(["verify-bundle", file, "--json"] + keys.flatMap { ["--key", $0] })
    }

    @Test func aBundleVerifiesWithNoStoreAndOnlyTheAuditorsKeys() throws {
        let (sandbox, release, keys) = try bundled()
        // The store is gone: the auditor's laptop has only the file and the keys.
        try sandbox.sh("mv store store.elsewhere")
        let result = try verifyBundle(sandbox, keys)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let report = try result.json()
        #expect(report["release"] as? String == release)
        #expect(report["sealed"] is String)
        #expect(report["tags"] as? [String] == ["web@1"])
        #expect((report["activations"] as? [Any])?.count == 1)
        let signers = report["signers"] as? [[String: Any]] ?? []
        #expect(signers.contains { $0["trusted"] as? Bool == true })
        #expect(
            !FileManager.default.fileExists(atPath: "\(sandbox.root)/store"), "verify-bundle must not create a store")

        // Every proof in it also checks with the independent checker, against the checkpoint's root.
        let bundle =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(sandbox.root)/bundle.json"))) as? [String: Any] ?? [:]
        let proofs = (bundle["entries"] as? [[String: Any]] ?? []).compactMap { $0["inclusion"] }
        #expect(proofs.count >= 5)
        #expect(try ProofCheck.verify(proofs, root: report["checkpoint_root"] as? String, in: sandbox))

        // Without the checkpoint key the signer of the checkpoint is unknown: not ok.
        #expect(try verifyBundle(sandbox, [keys[0]]).status == 1)
        #expect(try verifyBundle(sandbox, []).status == 1)
    }

    /// Each edit an attacker could make to a bundle, as Python over its JSON.
    @Test(arguments: [
        ("entry details", "b['entries'][0]['entry']['details']['app'] = 'evil'"),
        (
            "entry bytes",
            "e = b['entries'][1]['inclusion']; e['entry'] = base64.b64encode(base64.b64decode(e['entry']).replace(b'web', b'wab')).decode()"
        ),
        (
            "audit path",
            "p = b['entries'][0]['inclusion']['audit_path']; p[0] = ('0' if p[0][0] != '0' else '1') + p[0][1:]"
        ),
        ("dropped path step", "b['entries'][0]['inclusion']['audit_path'].pop()"),
        (
            "manifest",
            "m = bytearray(base64.b64decode(b['manifest'])); m[-2] ^= 1; b['manifest'] = base64.b64encode(bytes(m)).decode()"
        ),
        (
            "checkpoint root",
            "lines = b['checkpoint'].split('\\n'); lines[2] = base64.b64encode(bytes(32)).decode(); b['checkpoint'] = '\\n'.join(lines)"
        ),
        ("envelope", "b['envelopes'][0] = b['envelopes'][0].replace('\"payloadType\"', '\"payloadType\" ', 1)"),
        (
            "foreign entry",
            "b['entries'].append(dict(b['entries'][-1])); b['entries'][-1]['entry'] = dict(b['entries'][-1]['entry'], subject='sha256:' + '0' * 64)"
        ),
        ("duplicated entries", "b['entries'] += [e for e in b['entries'] if e['entry']['action'] == 'sign'] * 3"),
        ("duplicated envelopes", "b['envelopes'] += b['envelopes'] * 3"),
    ])
    func tamperedBundlesFail(_ what: String, _ edit: String) throws {
        let (sandbox, _, keys) = try bundled()
        let script =
            "import base64, json\nb = json.load(open('bundle.json'))\n\(edit)\njson.dump(b, open('tampered.json', 'w'))\n"
        try script.write(toFile: "\(sandbox.root)/tamper.py", atomically: true, encoding: .utf8)
        try sandbox.sh("python3 tamper.py")
        let result = try verifyBundle(sandbox, keys, file: "tampered.json")
        #expect(result.status == 1, "\(what): \(result.stdout) \(result.stderr)")
    }

    /// A release sealed without --sign carries an unsigned provenance envelope: listed as
    /// unsigned, counted for nothing, and the bundle verifies.
    @Test func unsignedProvenanceDoesNotFailTheBundle() throws {
        let sandbox = try Sandbox()
        #expect(try sandbox.fixity("key", "generate", "--out", "log.key").status == 0)
        try sandbox.sh("mkdir -p src && echo v1 > src/VERSION")
        _ = try sandbox.seal("src", app: "web", extra: ["--tag", "1"])
        #expect(try sandbox.fixity("prove", "web@1", "--out", "bundle.json", "--key", "log.key").status == 0)
        let result = try verifyBundle(sandbox, ["log.key"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let report = try result.json()
        #expect((report["unsigned"] as? [String])?.count == 1)
        #expect((report["signers"] as? [Any])?.isEmpty == true)
        let human = try sandbox.fixity("verify-bundle", "bundle.json", "--key", "log.key")
        #expect(human.stdout.contains("unsigned"), "\(human.stdout)")
    }

    /// The bundle tells the release's whole story: its failed health check and the switch away
    /// from it are carried and shown; an activation whose subject is not its pair's deployment
    /// fails.
    @Test func failedChecksAndSwitchesAwayAreInTheBundle() throws {
        let sandbox = try Sandbox()
        #expect(try sandbox.fixity("key", "generate", "--out", "log.key").status == 0)
        _ = try DeployTests.releases(sandbox, 2)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root", "--health-cmd", "false").status == 1)
        #expect(try sandbox.fixity("deploy", "app@2", "--root", "root", "--force").status == 0)
        #expect(try sandbox.fixity("prove", "app@1", "--out", "one.json", "--key", "log.key").status == 0)
        #expect(try sandbox.fixity("prove", "app@2", "--out", "two.json", "--key", "log.key").status == 0)
        let one = try verifyBundle(sandbox, ["log.key"], file: "one.json")
        #expect(one.status == 0, "\(one.stdout) \(one.stderr)")
        #expect((try one.json()["switches_away"] as? [Any])?.isEmpty == false, "\(one.stdout)")
        let two = try verifyBundle(sandbox, ["log.key"], file: "two.json")
        #expect(two.status == 0, "\(two.stdout) \(two.stderr)")
        #expect((try two.json()["failed_health_checks"] as? [Any])?.count == 1, "\(two.stdout)")
        // Moving an activation's subject to another deployment breaks its pair binding.
        let script =
            "import json\nb = json.load(open('two.json'))\nfor e in b['entries']:\n    if e['entry']['action'] == 'activate':\n        e['entry']['details']['config'] = 'sha256:' + '1' * 64\n        break\njson.dump(b, open('moved.json', 'w'))\n"
        try script.write(toFile: "\(sandbox.root)/move.py", atomically: true, encoding: .utf8)
        try sandbox.sh("python3 move.py")
        #expect(try verifyBundle(sandbox, ["log.key"], file: "moved.json").status == 1)
    }

    @Test func malformedBundlesAreRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("echo '{\"type\": \"something else\"}' > other.json; echo 'not json' > garbage.json")
        for file in ["other.json", "garbage.json", "missing.json"] {
            let result = try sandbox.fixity("verify-bundle", file)
            #expect(result.status == 2 && result.stderr.contains(file), "\(file): \(result.stderr)")
        }
    }
}
