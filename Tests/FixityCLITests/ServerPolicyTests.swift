import FixityCore
import Foundation
import Testing

/// The server's policy is a signed document (its `[root]` threshold), promotions are judged by
/// it, and signatures are verified on arrival — the real binary against a real server.
@Suite struct ServerPolicyTests {
    /// Keys and a policy file naming them; `root` are the key files whose public keys are the
    /// `[root]`, `threshold` its threshold.
    static func policy(_ sandbox: Sandbox, root: [String], threshold: Int, name: String = "policy.toml") throws {
        func publicKey(_ file: String) throws -> String {
            try sandbox.sh("\(Sandbox.binary) key public \(file) 2>/dev/null").stdout.trimmingCharacters(
                in: .whitespacesAndNewlines)
        }
        let rootKeys = try root.map { "\"\(try publicKey($0))\"" }.joined(separator: ", ")
        try """
        [root]
        keys = [\(rootKeys)]
        threshold = \(threshold)
        [keys]
        ci = "\(try publicKey("ci.key"))"
        [environments.staging]
        trusted_keys = ["ci"]
        threshold = 1
        [environments.production]
        trusted_keys = ["ci"]
        threshold = 1
        require_known_good_in = ["staging"]

        """.write(toFile: "\(sandbox.root)/\(name)", atomically: true, encoding: .utf8)
    }

    /// Modes: the embedded store, and (with PostgreSQL) a replicated server's database.
    static let modes = TestPostgres.enabled ? ["embedded", "postgres"] : ["embedded"]

    static func server(_ sandbox: Sandbox, mode: String) throws -> TestServer {
        try TestServer(in: sandbox, database: mode == "postgres" ? try TestPostgres.freshDatabase().description : nil)
    }

    @Test(arguments: modes)
    func policiesNeedTheirRootThresholdAndPromotionsFollowThePolicy(mode: String) throws {
        let sandbox = try Sandbox()
        for key in ["r1", "r2", "r3", "ci", "stranger"] {
            try sandbox.sh("\(Sandbox.binary) key generate --out \(key).key >/dev/null 2>&1")
        }
        try Self.policy(sandbox, root: ["r1.key", "r2.key"], threshold: 2)
        try sandbox.sh("mkdir app && echo v1 > app/index.html")
        let release = try sandbox.seal("app", app: "web", extra: ["--tag", "1.0"])
        #expect(try sandbox.fixity("sign", "web@1.0", "--key", "ci.key").status == 0)
        let server = try Self.server(sandbox, mode: mode)
        let admin = try server.makeKey("admin", scopes: ["admin"])

        // A signed release cannot be pushed before the server has keys to verify it with.
        let early = try server.client(["push", "web@1.0"], key: admin)
        #expect(early.status == 2 && early.stderr.contains("no policy"), "\(early.stderr)")

        // One of two root signatures is short of the threshold; both are enough.
        let short = try server.client(["policy", "set", "policy.toml", "--sign", "r1.key"], key: admin)
        #expect(short.status == 2 && short.stderr.contains("signed by 1 of its own root keys"), "\(short.stderr)")
        let set = try server.client(
            ["policy", "set", "policy.toml", "--sign", "r1.key", "--sign", "r2.key"], key: admin)
        #expect(set.status == 0, "\(set.stderr)")
        // A policy key with only policy:write... a promote key cannot set policy.
        let promoter = try server.makeKey("promoter", scopes: ["promote:staging", "release:read"])
        let notAllowed = try server.client(
            ["policy", "set", "policy.toml", "--sign", "r1.key", "--sign", "r2.key"], key: promoter)
        #expect(notAllowed.status == 2 && notAllowed.stderr.contains("lacks the scope policy:write"))

        // A new root (r2, r3) signed only by the new root: the old threshold is missing.
        try Self.policy(sandbox, root: ["r2.key", "r3.key"], threshold: 2, name: "rotated.toml")
        let hijack = try server.client(
            ["policy", "set", "rotated.toml", "--sign", "r2.key", "--sign", "r3.key"], key: admin)
        #expect(hijack.status == 2 && hijack.stderr.contains("needs the old root's threshold too"), "\(hijack.stderr)")
        let rotated = try server.client(
            ["policy", "set", "rotated.toml", "--sign", "r1.key", "--sign", "r2.key", "--sign", "r3.key"], key: admin)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        // From now on r1 is no longer a root key: r1 + r2 fall short of the new root's threshold.
        let stale = try server.client(
            ["policy", "set", "policy.toml", "--sign", "r1.key", "--sign", "r2.key"], key: admin)
        #expect(stale.status == 2, "\(stale.stderr)")

        // The push carries the signature and the provenance; the server verified them.
        let pushed = try server.client(["push", "web@1.0", "--json"], key: admin)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(try pushed.json()["envelopes"] as? Int == 2)

        // Promotions: staging allowed (a ci signature); production refused (never known-good in
        // staging — only enrolled hosts can say so, never a client); an undefined env refused;
        // a key scoped to staging cannot promote production at all.
        let staging = try server.client(["promote", "web@1.0", "--env", "staging", "--json"], key: promoter)
        #expect(staging.status == 0, "\(staging.stderr)")
        #expect(try staging.json()["release"] as? String == release)
        let production = try server.client(["promote", "web@1.0", "--env", "production"], key: admin)
        #expect(production.status == 2 && production.stderr.contains("never known-good in staging"))
        let undefined = try server.client(["promote", "web@1.0", "--env", "qa"], key: admin)
        #expect(
            undefined.status == 2 && undefined.stderr.contains("'qa' is not defined")
                && undefined.stderr.contains("defined: production, staging"))
        let outOfScope = try server.client(["promote", "web@1.0", "--env", "production"], key: promoter)
        #expect(outOfScope.status == 2 && outOfScope.stderr.contains("lacks the scope promote:production"))
        let refusedHTTP = try server.request(
            "POST", "/v1/environments/production/promote", key: admin, json: #"{"release":"web@1.0"}"#)
        #expect(refusedHTTP.status == 409 && refusedHTTP.errorMessage.contains("known-good"))

        // env show: what staging should run and under which policy; the desired state route.
        let shown = try server.client(["env", "show", "staging", "--json"], key: promoter).json()
        #expect((shown["desired"] as? [String: Any])?["release"] as? String == release)
        #expect(try server.request("GET", "/v1/environments/staging/desired", key: promoter).status == 200)
        #expect(try server.request("GET", "/v1/environments/production/desired", key: promoter).status == 404)

        // An unsigned release reaches the server but not staging.
        try sandbox.sh("echo v2 > app/index.html")
        _ = try sandbox.seal("app", app: "web", extra: ["--tag", "2.0"])
        #expect(try server.client(["push", "web@2.0"], key: admin).status == 0)
        let unsigned = try server.client(["promote", "web@2.0", "--env", "staging"], key: promoter)
        #expect(unsigned.status == 2 && unsigned.stderr.contains("needs 1 signature"), "\(unsigned.stderr)")

        // Pull brings the signatures along: the local gate sees what the server's saw.
        let other = "\(sandbox.root)/other"
        #expect(try server.client(["pull", "web@1.0"], key: admin, store: other).status == 0)
        #expect(try sandbox.fixity(["signatures", "web@1.0"], store: other).stdout.contains("f"))

        let ledger = try server.ledger()
        #expect(ledger.contains("\"promote\"") && ledger.contains("promote-refused") && ledger.contains("\"policy\""))
        #expect(try server.client(["log", "verify"], key: admin).status == 0)
    }

    /// Envelopes are verified on arrival: a signature that claims a trusted key but does not
    /// verify, or one by a key the policy does not know, is refused and nothing is stored.
    @Test(arguments: modes)
    func envelopesThatDoNotVerifyAreRefused(mode: String) throws {
        let sandbox = try Sandbox()
        for key in ["r1", "ci", "stranger"] {
            try sandbox.sh("\(Sandbox.binary) key generate --out \(key).key >/dev/null 2>&1")
        }
        try Self.policy(sandbox, root: ["r1.key"], threshold: 1)
        try sandbox.sh("mkdir app && echo v1 > app/index.html")
        let release = try sandbox.seal("app", app: "web", extra: ["--tag", "1.0"])
        let server = try Self.server(sandbox, mode: mode)
        let admin = try server.makeKey("admin", scopes: ["admin"])
        #expect(try server.client(["policy", "set", "policy.toml", "--sign", "r1.key"], key: admin).status == 0)
        #expect(try server.client(["push", "web@1.0"], key: admin).status == 0)

        // Signed by a key the policy does not know.
        #expect(try sandbox.fixity("sign", "web@1.0", "--key", "stranger.key").status == 0)
        let envelopes = try sandbox.fixity(["signatures", "web@1.0", "--json"]).json()
        let list = try #require(envelopes["records"] as? [[String: Any]])
        let signed = try #require(list.first { ($0["key_ids"] as? [String])?.isEmpty == false })
        let envelope = try #require(signed["envelope"] as? [String: Any])
        let strangerJSON = String(decoding: try JSONSerialization.data(withJSONObject: envelope), as: UTF8.self)
        let unknown = try server.request(
            "POST", "/v1/releases/\(release)/envelopes", key: admin, json: strangerJSON)
        #expect(unknown.status == 422 && unknown.errorMessage.contains("does not know"), "\(unknown.body)")

        // The same signature relabelled as the trusted ci key: it does not verify.
        let ciID = try sandbox.sh("\(Sandbox.binary) key public ci.key --json").stdout
        let ciKeyID = try #require(
            (try JSONSerialization.jsonObject(with: Data(ciID.utf8)) as? [String: Any])?["id"] as? String)
        var forged = envelope
        var signatures = try #require(forged["signatures"] as? [[String: Any]])
        signatures[0]["keyid"] = ciKeyID
        forged["signatures"] = signatures
        let forgedJSON = String(decoding: try JSONSerialization.data(withJSONObject: forged), as: UTF8.self)
        let answer = try server.request("POST", "/v1/releases/\(release)/envelopes", key: admin, json: forgedJSON)
        #expect(answer.status == 422 && answer.errorMessage.contains("does not verify"), "\(answer.body)")
        // Malformed JSON and an envelope about another release: 4xx, nothing stored.
        #expect(try server.request("POST", "/v1/releases/\(release)/envelopes", key: admin, json: "{").status == 422)
        let stored = try server.request("GET", "/v1/releases/\(release)/envelopes", key: admin).json()
        #expect((stored["envelopes"] as? [Any])?.count == 1)  // the unsigned provenance only
    }
}
