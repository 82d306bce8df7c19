import FixityCore
import Foundation
import Testing

@testable import FixityServer

/// "What was staging meant to run at 3 a.m.?" asked of the server: answered from its ledger,
/// every entry with an inclusion proof the CLI checks; an answer that does not match its proofs
/// is refused.
@Suite struct ServerStateAtTests {
    @Test(arguments: ServerPolicyTests.modes)
    func theServerProvesWhatEachEnvironmentWasMeantToRun(mode: String) throws {
        let sandbox = try Sandbox()
        for key in ["root", "ci"] {
            try sandbox.sh("\(Sandbox.binary) key generate --out \(key).key >/dev/null 2>&1")
        }
        try ServerPolicyTests.policy(sandbox, root: ["root.key"], threshold: 1)
        let server = try ServerPolicyTests.server(sandbox, mode: mode)
        let admin = try server.makeKey("admin", scopes: ["admin"])
        let auditor = try server.makeKey("auditor", scopes: ["ledger:read"])
        let reader = try server.makeKey("reader", scopes: ["release:read"])

        // Asked before anything happened on it: the ledger cannot speak for that time.
        let early = try server.client(["state", "--at", "2000-01-01T00:00:00Z"], key: auditor)
        #expect(early.status == 2 && early.stderr.contains("before the ledger's first entry"), "\(early.stderr)")

        #expect(try server.client(["policy", "set", "policy.toml", "--sign", "root.key"], key: admin).status == 0)
        var releases: [String] = []
        for version in ["1", "2"] {
            try sandbox.sh("mkdir -p app && echo v\(version) > app/index.html")
            releases.append(try sandbox.seal("app", app: "web", extra: ["--tag", version]))
            #expect(try sandbox.fixity("sign", "web@\(version)", "--key", "ci.key").status == 0)
            #expect(try server.client(["push", "web@\(version)"], key: admin).status == 0)
        }
        #expect(try server.client(["promote", "web@1", "--env", "staging"], key: admin).status == 0)
        usleep(20_000)
        let between = Instant(Date()).description
        usleep(20_000)
        #expect(try server.client(["promote", "web@2", "--env", "staging"], key: admin).status == 0)

        // Between the promotions: v1, standing until the second one; the policy it was judged by.
        let then = try server.client(["state", "--at", between, "--env", "staging", "--json"], key: auditor)
        #expect(then.status == 0, "\(then.stderr)")
        let answer = try then.json()
        let staging = (answer["environments"] as? [[String: Any]])?.first
        #expect(staging?["release"] as? String == releases[0])
        #expect(staging?["until"] as? String != nil)
        let policyDigest = (answer["policy"] as? [String: Any])?["digest"] as? String
        #expect(policyDigest?.hasPrefix("sha256:") == true)
        #expect((answer["proof"] as? [Any])?.count == 2)

        // Now: v2, still standing; the text form says the proofs were checked.
        let now = try server.client(["state", "--at", "now"], key: auditor)
        #expect(now.status == 0 && now.stdout.contains(releases[1]) && now.stdout.contains("still standing"))
        #expect(now.stdout.contains("checked here"), "\(now.stdout)")

        // The route's own refusals: no such time, a key without ledger:read.
        #expect(try server.request("GET", "/v1/state?at=yesterday", key: auditor).status == 400)
        #expect(try server.request("GET", "/v1/state", key: auditor).status == 400)
        #expect(try server.request("GET", "/v1/state?at=\(between)", key: reader).status == 403)

        // An answer changed in transit (another release claimed for the same entry) is refused.
        let raw = try server.request("GET", "/v1/state?at=\(between)&env=staging", key: auditor)
        #expect(raw.status == 200)
        let forged = raw.body.replacingOccurrences(
            of: "\"release\":\"\(releases[0])\"", with: "\"release\":\"\(releases[1])\"")
        #expect(forged != raw.body)
        let decoded = try JSONDecoder().decode(ServerState.self, from: Data(raw.body.utf8))
        try decoded.check(server: server.url)
        let lie = try JSONDecoder().decode(ServerState.self, from: Data(forged.utf8))
        #expect(throws: ServerClientError.self) { try lie.check(server: server.url) }
    }
}
