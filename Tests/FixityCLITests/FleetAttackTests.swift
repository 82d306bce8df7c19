import FixityCore
import Foundation
import GRDB
import Testing

/// What an agent refuses, each with a clear message, a ledger entry, and the host still running
/// what it ran (docs/agent.md, "What an agent refuses"): a server that writes its own policy, a
/// replayed genuine policy naming an unsigned release, a lowered root threshold, a corrupt blob,
/// a revoked host, forged, replayed and stale requests, and a server that hangs up mid-download
/// or answers slowly.
@Suite(.serialized) struct FleetAttackTests {
    /// The public key an identity file carries.
    static func publicKey(_ identity: String) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: identity)))
        let key = try #require((object as? [String: Any])?["public_key"] as? String)
        return "ed25519:" + key
    }

    static func hostLedger(_ sandbox: Sandbox, _ fleet: TestFleet, _ host: String) throws -> String {
        try sandbox.fixity(["log", "export"], store: fleet.store(host)).stdout
    }

    /// A second server an attacker runs (or a compromised one): its own data and admin key; the
    /// host enrolled there under the public key the attacker read off the real server's host.
    static func attackerServer(_ sandbox: Sandbox, data: String, hosts: [String], fleet: TestFleet) throws
        -> (TestServer, String)
    {
        let server = try TestServer(in: sandbox, data: data)
        let admin = try server.makeKey("admin", scopes: ["admin"])
        for host in hosts {
            let body = #"{"name":"\#(host)","env":"staging","public_key":"\#(try publicKey(fleet.identity(host)))"}"#
            #expect(try server.request("POST", "/v1/hosts", key: admin, json: body).status == 201)
        }
        return (server, admin)
    }

    @Test func anAgentRefusesWhatItsOwnTrustDoesNotAllowAndKeepsRunningWhatItRan() throws {
        let sandbox = try Sandbox()
        let (roots, releases) = try FleetTests.prepare(sandbox)
        let (server, admin) = try FleetTests.serve(sandbox)
        let fleet = TestFleet(sandbox)
        defer { fleet.close() }
        let hosts = ["a1", "a2", "a3"]
        for host in hosts {
            try fleet.enroll(host, env: "staging", server: server, key: admin, roots: roots, threshold: 2)
        }
        // A refused enrollment leaves no identity behind; an identity is never overwritten.
        let reader = try server.makeKey("reader", scopes: ["release:read"])
        let leftover = "\(sandbox.root)/refused.id"
        for (key, name) in [(reader, "b1"), (admin, "a1")] {
            let refused = try server.client(
                [
                    "host", "enroll", "--env", "staging", "--name", name, "--identity", leftover, "--policy-root",
                    roots[0],
                ],
                key: key)
            #expect(refused.status == 2, "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: leftover), "\(name): the refused identity was left behind")
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: fleet.identity("a1")))
        let over = try server.client(
            [
                "host", "enroll", "--env", "staging", "--name", "b2", "--identity", fleet.identity("a1"),
                "--policy-root", roots[0],
            ],
            key: admin)
        #expect(over.status == 2 && over.stderr.contains("never overwritten"), "\(over.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: fleet.identity("a1"))) == before)

        #expect(try server.client(["promote", "web@1.0", "--env", "staging"], key: admin).status == 0)
        for host in hosts {
            let once = try fleet.once(
                host, server: server.url, extra: ["--metrics-file", "\(sandbox.root)/\(host).prom"])
            #expect(once.status == 0 && fleet.content(host) == "v1", "\(host): \(once.stderr)")
            let metrics = try String(contentsOfFile: "\(sandbox.root)/\(host).prom", encoding: .utf8)
            #expect(metrics.contains("fixity_agent_converged 1"), "\(metrics)")
        }

        // An attacker's server with its own root: its policy is not signed by the pinned root.
        try sandbox.sh("\(Sandbox.binary) key generate --out evil.key >/dev/null 2>&1")
        let evilRoot = try sandbox.sh("\(Sandbox.binary) key public evil.key 2>/dev/null").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let genuine = try String(contentsOfFile: "\(sandbox.root)/policy.toml", encoding: .utf8)
        try genuine.replacingOccurrences(
            of: "keys = [\"\(roots[0])\", \"\(roots[1])\"]\nthreshold = 2",
            with: "keys = [\"\(evilRoot)\"]\nthreshold = 1"
        )
        .write(toFile: "\(sandbox.root)/evil.toml", atomically: true, encoding: .utf8)
        let (evil, evilAdmin) = try Self.attackerServer(sandbox, data: "evil", hosts: hosts, fleet: fleet)
        #expect(try evil.client(["policy", "set", "evil.toml", "--sign", "evil.key"], key: evilAdmin).status == 0)
        #expect(try evil.client(["push", "web@2.0"], key: evilAdmin).status == 0)
        #expect(try evil.client(["promote", "web@2.0", "--env", "staging"], key: evilAdmin).status == 0)
        let forged = try fleet.once("a1", server: evil.url)
        #expect(
            forged.status == 2 && forged.stderr.contains("not signed by the policy root this host trusts"),
            "\(forged.stderr)")
        #expect(fleet.content("a1") == "v1")
        #expect(try Self.hostLedger(sandbox, fleet, "a1").contains("agent-refused"))
        #expect(try evil.ledger().contains("\"refused\""), "the refusal is reported to the server that sent it")

        // A compromised server replays the genuine signed policy and names an unsigned release
        // (written straight into its database: its own gate would refuse it).
        let (broken, brokenAdmin) = try Self.attackerServer(sandbox, data: "broken", hosts: ["a2"], fleet: fleet)
        let genuinePolicy = try server.request("GET", "/v1/policy", key: admin).json()
        let envelope = try #require(genuinePolicy["envelope"] as? String)
        try envelope.write(toFile: "\(sandbox.root)/genuine.dsse", atomically: true, encoding: .utf8)
        #expect(
            try broken.request("PUT", "/v1/policy", key: brokenAdmin, bodyFile: "\(sandbox.root)/genuine.dsse").status
                == 201)
        try sandbox.sh("echo v4 > app/index.html")
        let unsigned = try sandbox.seal("app", app: "web", extra: ["--tag", "4.0"])
        #expect(try broken.client(["push", "web@4.0"], key: brokenAdmin).status == 0)
        let database = try liveDatabase("\(sandbox.root)/broken/fixity.db")
        try database.write { db in
            try db.execute(
                sql:
                    "INSERT INTO desired_states (env, release, policy, key_id, set_at) VALUES ('staging', ?, ?, 'x', '2026-12-04T00:00:00Z')",
                arguments: [unsigned, Digest.of(Array(genuine.utf8)).description])
        }
        let short = try fleet.once("a2", server: broken.url)
        #expect(
            short.status == 2 && short.stderr.contains("needs 1 signature from trusted keys of staging"),
            "\(short.stderr)")
        #expect(fleet.content("a2") == "v1")

        // The same server slips in a policy that lowers the root to r1 alone, signed by r1: short
        // of the old root's threshold of 2.
        let r1 = try SigningKey(
            fileBytes: Array(try Data(contentsOf: URL(fileURLWithPath: "\(sandbox.root)/r1.key"))), name: "r1")
        let lowered = genuine.replacingOccurrences(
            of: "keys = [\"\(roots[0])\", \"\(roots[1])\"]\nthreshold = 2",
            with: "keys = [\"\(roots[0])\"]\nthreshold = 1")
        let signedLowered = SignedPolicy.sign(text: lowered, keys: [r1])
        try database.write { db in
            try db.execute(
                sql: "INSERT INTO signed_policies (policy_seq, digest, envelope, key_id) VALUES (1000, ?, ?, 'x')",
                arguments: [
                    Digest.of(Array(lowered.utf8)).description,
                    String(decoding: signedLowered.jsonBytes(), as: UTF8.self),
                ])
        }
        let lowering = try fleet.once("a2", server: broken.url)
        #expect(
            lowering.status == 2 && lowering.stderr.contains("root keys in force; it needs 2"), "\(lowering.stderr)")
        #expect(fleet.content("a2") == "v1")
        _ = broken.stop()
        _ = evil.stop()

        // A blob that does not match its digest: refused whole, nothing switched, the store sound.
        try sandbox.sh("head -c 3000000 /dev/urandom > app/big.bin && echo v5 > app/index.html")
        let big = try sandbox.seal("app", app: "web", extra: ["--tag", "5.0"])
        #expect(try sandbox.fixity("sign", "web@5.0", "--key", "ci.key").status == 0)
        #expect(try server.client(["push", "web@5.0"], key: admin).status == 0)
        #expect(try server.client(["promote", "web@5.0", "--env", "staging"], key: admin).status == 0)
        let digest = try sandbox.sh("sha256sum app/big.bin | cut -c1-64").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let object = "\(sandbox.root)/server/objects/sha256/\(digest.prefix(2))/\(digest.dropFirst(2))"
        let original = try Data(contentsOf: URL(fileURLWithPath: object))
        var corrupt = original
        corrupt[100] ^= 0xff
        try sandbox.sh("chmod u+w '\(object)'")
        try corrupt.write(to: URL(fileURLWithPath: object))
        let bad = try fleet.once("a1", server: server.url)
        #expect(bad.status == 2 && fleet.content("a1") == "v1", "\(bad.stderr)")
        #expect(try sandbox.fixity(["fsck"], store: fleet.store("a1")).status == 0)
        try original.write(to: URL(fileURLWithPath: object))

        // A server that hangs up mid-download: nothing switched, the store sound; then a slow one.
        let port = try #require(server.url.split(separator: ":").last.map(String.init))
        let cutting = try fleet.startRelay(
            listen: "127.0.0.1:0", to: "127.0.0.1:\(port)", extra: ["--cut-after", "200000"])
        let hungUp = try fleet.once("a1", server: cutting.url)
        #expect(hungUp.status == 2 && fleet.content("a1") == "v1", "\(hungUp.stderr)")
        #expect(try sandbox.fixity(["fsck"], store: fleet.store("a1")).status == 0)
        let slow = try fleet.startRelay(listen: "127.0.0.1:0", to: "127.0.0.1:\(port)", extra: ["--delay", "0.5"])
        let patient = try fleet.once("a1", server: slow.url)
        #expect(patient.status == 0 && fleet.content("a1") == "v5", "\(patient.stderr)")
        _ = big

        // Forged, replayed and stale requests, each refused and recorded.
        let identity = try HostIdentity(
            fileBytes: Array(try Data(contentsOf: URL(fileURLWithPath: fleet.identity("a3")))), name: "a3")
        func signed(_ method: String, _ path: String, body: String = "", created: Int64? = nil) -> [String: String] {
            let target = MessageSignature.Target(method: method, path: path, query: nil, body: Array(body.utf8))
            let (input, signature) = MessageSignature.sign(
                target, with: identity.key, created: created ?? Int64(Date().timeIntervalSince1970))
            return ["Signature-Input": input, "Signature": signature, "Content-Digest": target.contentDigest]
        }
        let refusalsBefore = try FleetTests.ledgerEntries(server).filter { $0["action"] as? String == "host-refused" }
            .count
        let good = signed("GET", "/v1/agent/desired")
        #expect(try server.request("GET", "/v1/agent/desired", headers: good).status == 200)
        #expect(try server.request("GET", "/v1/agent/desired", headers: good).status == 401, "a replayed request")
        let stale = signed("GET", "/v1/agent/desired", created: Int64(Date().timeIntervalSince1970) - 600)
        #expect(try server.request("GET", "/v1/agent/desired", headers: stale).status == 401)
        let report =
            #"{"seq":5,"event":"status","time":"2026-12-04T00:00:00Z","changes":[],"change_count":0,"interval_seconds":30}"#
        var forgedBody = signed("POST", "/v1/agent/reports", body: report)
        let swapped = report.replacingOccurrences(of: "status", with: "deployed")
        #expect(try server.request("POST", "/v1/agent/reports", json: swapped, headers: forgedBody).status == 401)
        forgedBody["Content-Digest"] = MessageSignature.contentDigest(of: Array(swapped.utf8))
        #expect(try server.request("POST", "/v1/agent/reports", json: swapped, headers: forgedBody).status == 401)
        let old = try server.request(
            "POST", "/v1/agent/reports", json: report, headers: signed("POST", "/v1/agent/reports", body: report))
        #expect(old.status == 409 && old.errorMessage.contains("replayed"), "\(old.body)")
        #expect(try server.request("GET", "/v1/agent/desired").status == 401, "unsigned")
        // A host's signature opens its release's routes and /v1/agent, not the fleet's views.
        for path in ["/v1/hosts", "/v1/environments/staging", "/v1/releases", "/v1/policy"] {
            #expect(try server.request("GET", path, headers: signed("GET", path)).status == 403, "\(path)")
        }
        let refusals = try FleetTests.ledgerEntries(server).filter { $0["action"] as? String == "host-refused" }.count
        #expect(refusals - refusalsBefore >= 5, "each refusal is a ledger entry (\(refusals - refusalsBefore))")

        // --once exits 1 when the desired release fails its health check and is rolled back.
        #expect(try server.client(["promote", "web@3.0", "--env", "staging"], key: admin).status == 0)
        let failed = try fleet.once("a2", server: server.url)
        #expect(failed.status == 1 && failed.stdout.contains("rolled back"), "\(failed.stdout) \(failed.stderr)")
        #expect(fleet.content("a2") == "v1", "a2 is back on what it ran")

        // A revoked host is refused from its next request on.
        #expect(try server.client(["host", "revoke", "a3"], key: admin).status == 0)
        let revoked = try fleet.once("a3", server: server.url)
        #expect(revoked.status == 2 && revoked.stderr.contains("revoked"), "\(revoked.stderr)")
        #expect(fleet.content("a3") == "v1")

        // The systemd unit `agent install` writes passes systemd's own check, where it exists.
        let unit = "\(sandbox.root)/fixity-agent.service"
        let install = try sandbox.fixity(
            ["agent", "install", "--identity", fleet.identity("a1"), "--root", fleet.root("a1"), "--unit", unit],
            store: fleet.store("a1"))
        #expect(install.status == 0, "\(install.stderr)")
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        #expect(text.contains("NoNewPrivileges=yes") && text.contains("ProtectSystem=strict"))
        #expect(text.contains("--store \"\(fleet.store("a1"))\""), "\(text)")
        // Without --store: a system path, never the installing shell's $FIXITY_STORE.
        let bare = "\(sandbox.root)/bare.service"
        let fromEnv = try Sandbox.run(
            "/usr/bin/env",
            [
                "FIXITY_STORE=/home/someone/.fixity", Sandbox.binary, "agent", "install", "--identity",
                fleet.identity("a1"), "--root", fleet.root("a1"), "--unit", bare,
            ], in: sandbox.root)
        #expect(fromEnv.status == 0, "\(fromEnv.stderr)")
        let bareText = try String(contentsOfFile: bare, encoding: .utf8)
        #expect(bareText.contains("/var/lib/fixity/store") && !bareText.contains("/home/someone"), "\(bareText)")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            let verified = try Sandbox.run("/usr/bin/systemd-analyze", ["verify", unit], in: sandbox.root)
            #expect(verified.status == 0, "\(verified.stderr)")
        }
        _ = releases
    }
}
