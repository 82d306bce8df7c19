import FixityCore
import Foundation
import Synchronization
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

/// Promotions racing policy changes: each promotion the ledger records names the policy that was
/// in force when it was written — never one replaced between its judgement and its write. (The
/// embedded plane's window between the two is far narrower than a CLI process's start, so this
/// checks the invariant under concurrent clients rather than provoking that window; the write's
/// own re-check of the policy is what closes it.)
@Suite struct PromotionPolicyRaceTests {
    @Test(arguments: ServerPolicyTests.modes)
    func everyPromotionNamesThePolicyInForceWhenItWasWritten(mode: String) throws {
        let sandbox = try Sandbox()
        for key in ["root", "ci"] {
            try sandbox.sh("\(Sandbox.binary) key generate --out \(key).key >/dev/null 2>&1")
        }
        try ServerPolicyTests.policy(sandbox, root: ["root.key"], threshold: 1)
        // Two policies that allow the same, with different digests.
        try sandbox.sh("cp policy.toml a.toml && cp policy.toml b.toml && echo '# b' >> b.toml")
        try sandbox.sh("mkdir -p app && echo v1 > app/index.html")
        _ = try sandbox.seal("app", app: "web", extra: ["--tag", "1"])
        #expect(try sandbox.fixity("sign", "web@1", "--key", "ci.key").status == 0)
        let server = try ServerPolicyTests.server(sandbox, mode: mode)
        let admin = try server.makeKey("admin", scopes: ["admin"])
        #expect(try server.client(["policy", "set", "a.toml", "--sign", "root.key"], key: admin).status == 0)
        #expect(try server.client(["push", "web@1"], key: admin).status == 0)

        let failures = Mutex<[String]>([])
        let (url, store, folder) = (server.url, sandbox.store, sandbox.root)
        let group = DispatchGroup()
        for n in 0..<14 {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                let args =
                    n % 2 == 0
                    ? ["promote", "web@1", "--env", "staging"]
                    : ["policy", "set", n % 4 == 1 ? "b.toml" : "a.toml", "--sign", "root.key"]
                let result = try? Sandbox.run(
                    "/usr/bin/env",
                    ["FIXITY_API_KEY=\(admin)", Sandbox.binary] + args + ["--server", url, "--store", store], in: folder
                )
                if result?.status != 0 {
                    failures.withLock { $0.append("\(args): \(result?.stderr ?? "did not run")") }
                }
            }
        }
        group.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")

        // Walk the ledger in order: every promote names the newest policy entry before it.
        let page = try server.request("GET", "/v1/ledger?from=0&count=10000", key: admin)
        let entries = try #require(
            (try JSONSerialization.jsonObject(with: Data(page.body.utf8)) as? [String: Any])?["entries"]
                as? [[String: Any]])
        var inForce: String?
        var promotions = 0
        for entry in entries {
            switch entry["action"] as? String {
            case "policy": inForce = entry["subject"] as? String
            case "promote":
                promotions += 1
                let named = (entry["details"] as? [String: String])?["policy"]
                #expect(
                    named == inForce,
                    "promotion \(entry["seq"] ?? "?") names \(named ?? "-"), in force \(inForce ?? "-")")
            default: break
            }
        }
        #expect(promotions == 7)
    }
}
