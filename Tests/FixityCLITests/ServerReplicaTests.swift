import FixityCore
import Foundation
import Testing

/// Two `fixity serve` replicas on one PostgreSQL database and one shared data folder, the way
/// they run behind a load balancer: what one does, the other sees at once; the ledger never
/// forks under both; a replica killed mid-push leaves nothing half-visible.
@Suite(
    .enabled(
        if: TestPostgres.enabled,
        "PostgreSQL is not available: set FIXITY_TEST_POSTGRES, or run scripts/test as root with Debian's postgresql installed"
    ))
struct ServerReplicaTests {
    @Test func tworeplicasShareOneTruth() throws {
        let sandbox = try Sandbox()
        let database = try TestPostgres.freshDatabase().description
        for key in ["root", "ci"] {
            try sandbox.sh("\(Sandbox.binary) key generate --out \(key).key >/dev/null 2>&1")
        }
        try ServerPolicyTests.policy(sandbox, root: ["root.key"], threshold: 1)
        let a = try TestServer(in: sandbox, data: "shared", database: database)
        let b = try TestServer(in: sandbox, data: "shared", database: database)
        let admin = try a.makeKey("admin", scopes: ["admin"])

        // Policy through A; releases pushed alternately through A and B; promotions through the other.
        #expect(try a.client(["policy", "set", "policy.toml", "--sign", "root.key"], key: admin).status == 0)
        var releases: [String] = []
        for n in 1...4 {
            try sandbox.sh("mkdir -p app && echo v\(n) > app/index.html && head -c 300000 /dev/urandom > app/blob")
            let id = try sandbox.seal("app", app: "web", extra: ["--tag", "\(n)"])
            #expect(try sandbox.fixity("sign", "web@\(n)", "--key", "ci.key").status == 0)
            let (pusher, promoter) = n % 2 == 0 ? (a, b) : (b, a)
            let pushed = try pusher.client(["push", "web@\(n)"], key: admin)
            #expect(pushed.status == 0, "\(pushed.stderr)")
            let promoted = try promoter.client(["promote", "web@\(n)", "--env", "staging", "--json"], key: admin)
            #expect(promoted.status == 0, "\(promoted.stderr)")
            #expect(try promoted.json()["release"] as? String == id)
            releases.append(id)
            // Each replica answers the new desired state at once, though both had the last one cached.
            for replica in [a, b] {
                let desired = try replica.request("GET", "/v1/environments/staging/desired", key: admin)
                #expect(desired.status == 200 && desired.body.contains(id), "\(desired.body)")
            }
        }
        // Both answer the same desired state; a tag set through one is immutable through the other.
        for replica in [a, b] {
            let shown = try replica.client(["env", "show", "staging", "--json"], key: admin).json()
            #expect((shown["desired"] as? [String: Any])?["release"] as? String == releases.last)
        }
        let moved = try b.request(
            "PUT", "/v1/tags/web/1", key: admin, json: #"{"release":"\#(releases[1])"}"#)
        #expect(moved.status == 409)

        // A key revoked through B is refused by A on its next request.
        let ci = try a.makeKey("ci", scopes: ["release:read"])
        #expect(try a.client(["env", "show", "staging"], key: ci).status == 0)
        #expect(try b.client(["keys", "revoke", "ci"], key: admin).status == 0)
        let refused = try a.client(["env", "show", "staging"], key: ci)
        #expect(refused.status == 2 && refused.stderr.contains("revoked"), "\(refused.stderr)")

        // Concurrent writers on both replicas: the audit of each rebuilds the same, unforked tree.
        let group = DispatchGroup()
        for n in 0..<8 {
            group.enter()
            let url = n % 2 == 0 ? a.url : b.url
            let folder = sandbox.root
            DispatchQueue.global().async {
                _ = try? Sandbox.run(
                    "/usr/bin/env",
                    [
                        "FIXITY_API_KEY=\(admin)", Sandbox.binary, "promote", "web@\(n % 4 + 1)", "--env", "staging",
                        "--server", url,
                    ], in: folder)
                group.leave()
            }
        }
        group.wait()
        let auditA = try a.client(["log", "verify", "--json"], key: admin)
        let auditB = try b.client(["log", "verify", "--json"], key: admin)
        #expect(auditA.status == 0 && auditB.status == 0, "\(auditA.stdout) \(auditB.stdout)")
        #expect(try auditA.json()["root"] as? String == (try auditB.json()["root"] as? String))

        // The shared folder's own database knows none of these releases: gc there is refused.
        let gc = try sandbox.fixity(["gc"], store: "\(sandbox.root)/shared")
        #expect(gc.status == 2 && gc.stderr.contains("gc refused"), "\(gc.stderr)")

        // Pull through either replica gives the same release, whole.
        let pulled = try b.client(["pull", "web@3", "--json"], key: admin, store: "\(sandbox.root)/other")
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try pulled.json()["release"] as? String == releases[2])
    }

    /// A replica killed with SIGKILL in the middle of a push: nothing of it is visible through
    /// the other replica, the shared ledger verifies, and the push retried there completes.
    @Test func aReplicaKilledMidPushLeavesNothingHalfVisible() throws {
        let sandbox = try Sandbox()
        let database = try TestPostgres.freshDatabase().description
        try sandbox.sh(
            "mkdir big && for i in $(seq 1 96); do head -c 524288 /dev/urandom > big/f$i; done && echo v1 > big/VERSION"
        )
        let id = try sandbox.seal("big", app: "big", extra: ["--tag", "1"])
        let survivor = try TestServer(in: sandbox, data: "shared", database: database)
        let admin = try survivor.makeKey("admin", scopes: ["admin"])
        var cut = 0
        for _ in 0..<3 {
            let victim = try TestServer(in: sandbox, data: "shared", database: database)
            let push = try victim.startPush("big@1", key: admin)
            Thread.sleep(forTimeInterval: 0.15)
            if push.isRunning { cut += 1 }
            _ = victim.stop(SIGKILL)
            push.waitUntilExit()
            // Through the survivor: the release is absent or whole, never half there.
            let seen = try survivor.request("GET", "/v1/releases/\(id)", key: admin)
            if seen.status == 200 {
                let pulled = try survivor.client(["pull", id], key: admin, store: "\(sandbox.root)/check")
                #expect(pulled.status == 0, "a visible release did not pull whole: \(pulled.stderr)")
            } else {
                #expect(seen.status == 404)
            }
            #expect(try survivor.client(["log", "verify"], key: admin).status == 0)
        }
        #expect(cut >= 1, "no push was cut: the test proved nothing")
        let retried = try survivor.client(["push", "big@1", "--json"], key: admin)
        #expect(retried.status == 0, "\(retried.stderr)")
        let pulled = try survivor.client(["pull", "big@1", "--json"], key: admin, store: "\(sandbox.root)/other")
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try pulled.json()["release"] as? String == id)
        #expect(try survivor.client(["log", "verify"], key: admin).status == 0)
    }

    /// Issue 29, item 9: what PostgreSQL does not keep yet is a 501 for reads as for writes —
    /// never an empty list that says "no hosts enrolled" or "no rollout".
    @Test func unsupportedFleetReadsAnswer501NotEmptiness() throws {
        let sandbox = try Sandbox()
        let database = try TestPostgres.freshDatabase().description
        for key in ["root", "ci"] {
            try sandbox.sh("\(Sandbox.binary) key generate --out \(key).key >/dev/null 2>&1")
        }
        try ServerPolicyTests.policy(sandbox, root: ["root.key"], threshold: 1)
        let server = try TestServer(in: sandbox, data: "shared", database: database)
        let admin = try server.makeKey("admin", scopes: ["admin"])
        #expect(try server.client(["policy", "set", "policy.toml", "--sign", "root.key"], key: admin).status == 0)
        for path in ["/v1/hosts", "/v1/hosts?env=staging", "/v1/rollouts/staging"] {
            let answer = try server.request("GET", path, key: admin)
            #expect(answer.status == 501, "\(path): \(answer.status) \(answer.body)")
        }
        // The environment's desired state is known here, its hosts are not: said so.
        let environment = try server.request("GET", "/v1/environments/staging", key: admin)
        #expect(environment.status == 200 && environment.body.contains("fleet_unavailable"), "\(environment.body)")
        let env = try server.client(["env", "show", "staging"], key: admin)
        #expect(env.status == 0 && env.stdout.contains("not known here"), "\(env.stdout) \(env.stderr)")
        #expect(!env.stdout.contains("no hosts enrolled"), "\(env.stdout)")
        for args in [["host", "list"], ["rollout", "show", "staging"]] {
            let shown = try server.client(args, key: admin)
            #expect(
                shown.status == 2 && shown.stderr.contains("PostgreSQL"), "\(args): \(shown.stdout) \(shown.stderr)")
            #expect(!shown.stdout.contains("no hosts enrolled"), "\(args): \(shown.stdout)")
        }
    }
}
