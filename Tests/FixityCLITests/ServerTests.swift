import FixityCore
import FixityServer
import Foundation
import Testing

/// `fixity serve` end to end: the real binary on a loopback port, spoken to by the CLI and by
/// curl, its data folder checked with `fsck` and `log verify` afterwards.
@Suite struct ServerTests {
    /// Push sends only what the server lacks, pull brings the same release id back with its
    /// tags, and both sides' stores and ledgers check out.
    @Test(arguments: ServerPolicyTests.modes)
    func pushAndPullMoveOnlyMissingBlobsAndKeepTheReleaseID(mode: String) throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir -p app/lib && echo one > app/a && echo two > app/lib/b && seq 1 5000 > app/big")
        let first = try sandbox.seal("app", app: "web", extra: ["--tag", "1.0"])
        let server = try ServerPolicyTests.server(sandbox, mode: mode)
        let key = try server.makeKey("ci", scopes: ["release:push", "release:read"])

        let pushed = try server.client(["push", "web@1.0", "--json"], key: key)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let report = try pushed.json()
        #expect(report["release"] as? String == first)
        #expect(report["blobs_total"] as? Int == 4 && report["blobs_sent"] as? Int == 4)  // 3 files + manifest
        let again = try server.client(["push", "web@1.0", "--json"], key: key).json()
        #expect(again["blobs_sent"] as? Int == 0 && again["bytes_sent"] as? Int == 0)

        // One file changes: that file and the new manifest travel, nothing else.
        try sandbox.sh("echo changed > app/a")
        let second = try sandbox.seal("app", app: "web", extra: ["--tag", "1.1"])
        let next = try server.client(["push", second, "--json"], key: key).json()
        #expect(next["blobs_sent"] as? Int == 2 && next["tags"] as? [String] == ["web@1.1"])

        // Pull into an empty store: the same id, the tag resolves, every object verified.
        let other = "\(sandbox.root)/other"
        let pulled = try server.client(["pull", "web@1.1", "--json"], key: key, store: other)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try pulled.json()["release"] as? String == second)
        #expect(try sandbox.fixity(["show", "web@1.1", "--json"], store: other).status == 0)
        #expect(try sandbox.fixity(["fsck"], store: other).status == 0)
        #expect(try sandbox.fixity(["log", "verify"], store: other).status == 0)
        // A second pull of the older release fetches only what it does not share.
        let olderPull = try server.client(["pull", first, "--json"], key: key, store: other)
        #expect(olderPull.status == 0, "\(olderPull.stderr)")
        #expect(try olderPull.json()["blobs_received"] as? Int == 2)

        // The server's ledger names the key by id, never the key; it verifies while serving.
        let ledger = try server.ledger()
        #expect(ledger.contains("\"receive\"") && ledger.contains("blobs-receive") && !ledger.contains(key))
        let audit = try server.client(["log", "verify"], key: try server.makeKey("auditor", scopes: ["ledger:read"]))
        #expect(audit.status == 0, "\(audit.stderr)")
        #expect(try sandbox.fixity(["fsck"], store: server.data).status == 0)
        #expect(server.stop() == 0)
    }

    /// The gate: no key, a malformed, unknown, revoked or expired key is 401; a key without the
    /// route's scope is 403; each refusal is a ledger entry; an address that keeps failing is
    /// answered 429 with Retry-After.
    @Test(arguments: ServerPolicyTests.modes)
    func theKeyGateRefusesAndRecordsEveryRefusal(mode: String) throws {
        let sandbox = try Sandbox()
        let server = try ServerPolicyTests.server(sandbox, mode: mode)
        let reader = try server.makeKey("reader", scopes: ["release:read"])
        let body = #"{"digests":[]}"#
        #expect(try server.request("POST", "/v1/blobs/missing", key: reader, json: body).status == 200)
        #expect(try server.request("GET", "/healthz").status == 200)
        #expect(try server.request("GET", "/readyz").status == 200)

        let none = try server.request("POST", "/v1/blobs/missing", json: body)
        #expect(none.status == 401 && none.errorMessage.contains("needs an API key"))
        let forbidden = try server.request("PUT", "/v1/tags/web/1.0", key: reader, json: #"{"release":"x"}"#)
        #expect(forbidden.status == 403 && forbidden.errorMessage.contains("lacks the scope release:push"))
        let unknown = "fxk_" + String(repeating: "A", count: 43)
        #expect(try server.request("GET", "/v1/releases", key: unknown).status == 401)

        // Revoked on the data folder while the server runs: refused at once.
        let revoked = try Sandbox.run(
            Sandbox.binary,
            ["server", "key", "revoke", "--data", server.data, "reader"]
                + (server.database.map { ["--database", $0] } ?? []), in: sandbox.root)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let afterRevoke = try server.request("GET", "/v1/releases", key: reader)
        #expect(afterRevoke.status == 401 && afterRevoke.errorMessage.contains("revoked"))

        // A key that expires: good, then refused as expired.
        let brief = try server.makeKey("brief", scopes: ["ledger:read"], expires: "2s")
        #expect(try server.request("GET", "/v1/ledger", key: brief).status == 200)
        usleep(2_300_000)
        let expired = try server.request("GET", "/v1/ledger", key: brief)
        #expect(expired.status == 401 && expired.errorMessage.contains("expired"))

        // Every refusal above is in the ledger, with its reason and the key's id where known.
        let ledger = try server.ledger()
        #expect(ledger.components(separatedBy: "api-refused").count - 1 >= 5)
        #expect(!ledger.contains(reader) && ledger.contains("lacks the scope release:push"))

        // Five failures are allowed in a minute; more are slowed down, even with a good key.
        let admin = try server.makeKey("admin", scopes: ["admin"])
        var throttled: TestServer.Answer?
        for _ in 0..<8 {
            let answer = try server.request("GET", "/v1/releases", key: unknown)
            if answer.status == 429 {
                throttled = answer
                break
            }
        }
        let slowed = try #require(throttled, "no 429 after repeated failures")
        #expect(slowed.headers.lowercased().contains("retry-after:"))
        #expect(try server.request("GET", "/v1/releases", key: admin).status == 429)
    }

    /// Bad input is refused with a JSON error that names it, and nothing is stored: a blob
    /// whose bytes lie, a pack cut short, a release whose blobs are missing or whose manifest
    /// is not one, a moved tag, malformed JSON, an unknown route, an oversized body.
    @Test func badInputIsRefusedByNameAndLeavesNothing() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir app && echo one > app/a && echo two > app/b")
        let id = try sandbox.seal("app", app: "web", extra: ["--tag", "1.0"])
        let server = try TestServer(in: sandbox)
        let key = try server.makeKey("ci", scopes: ["release:push", "release:read"])
        func objects() throws -> Int {
            Int(
                try sandbox.sh("find \(server.data)/objects -type f | wc -l").stdout.trimmingCharacters(
                    in: .whitespacesAndNewlines)) ?? -1
        }
        let before = try objects()

        // A blob whose bytes do not hash to its digest, after a good one: neither is kept.
        let good = Array("good\n".utf8)
        let claimed = Digest.of(Array("what it claims\n".utf8))
        var lying = BlobPack.opening
        lying += BlobPack.frameHeader(Digest.of(good), size: UInt64(good.count)) + good
        lying += BlobPack.frameHeader(claimed, size: 4) + Array("lie\n".utf8) + BlobPack.end
        let lyingFile = "\(sandbox.root)/lying.pack"
        try Data(lying).write(to: URL(fileURLWithPath: lyingFile))
        let refused = try server.request(
            "POST", "/v1/blobs", key: key, bodyFile: lyingFile, contentType: BlobPack.mediaType)
        #expect(refused.status == 400 && refused.errorMessage.contains("blob \(claimed) does not match its bytes"))

        // A pack without its end marker (a client that stopped between blobs): nothing kept.
        let cut = Array(lying.prefix(BlobPack.magic.count + BlobPack.headerSize + good.count))
        let cutFile = "\(sandbox.root)/cut.pack"
        try Data(cut).write(to: URL(fileURLWithPath: cutFile))
        let truncated = try server.request(
            "POST", "/v1/blobs", key: key, bodyFile: cutFile, contentType: BlobPack.mediaType)
        #expect(truncated.status == 400 && truncated.errorMessage.contains("truncated"), "\(truncated.body)")
        #expect(try objects() == before)

        // A release registered before its blobs: refused, naming how many are missing.
        let early = try server.request("POST", "/v1/releases", key: key, json: #"{"release":"\#(id)","app":"web"}"#)
        #expect(early.status == 400 && early.errorMessage.contains("was not uploaded"), "\(early.body)")
        // A "manifest" that is a blob of another kind.
        var plain = BlobPack.opening + BlobPack.frameHeader(Digest.of(good), size: UInt64(good.count)) + good
        plain += BlobPack.end
        let plainFile = "\(sandbox.root)/plain.pack"
        try Data(plain).write(to: URL(fileURLWithPath: plainFile))
        #expect(
            try server.request("POST", "/v1/blobs", key: key, bodyFile: plainFile, contentType: BlobPack.mediaType)
                .status == 200)
        let notManifest = try server.request(
            "POST", "/v1/releases", key: key, json: #"{"release":"\#(Digest.of(good))","app":"web"}"#)
        #expect(notManifest.status == 400 && notManifest.errorMessage.contains("manifest is invalid"))

        // Tags never move: web@1.0 names the first release; pointing it elsewhere is 409.
        #expect(try server.client(["push", "web@1.0"], key: key).status == 0)
        try sandbox.sh("echo three > app/a")
        let second = try sandbox.seal("app", app: "web")
        #expect(try server.client(["push", second], key: key).status == 0)
        let moved = try server.request("PUT", "/v1/tags/web/1.0", key: key, json: #"{"release":"\#(second)"}"#)
        #expect(moved.status == 409 && moved.errorMessage.contains("tags are immutable"))
        // The same through the CLI: exit 2 with the server's message.
        try sandbox.fixity("tag", "web@1.0-b", second)
        let cliMoved = try server.client(["push", "web@1.0-b"], key: key)
        #expect(cliMoved.status == 0, "\(cliMoved.stderr)")

        for (json, fragment) in [
            ("{", "not valid JSON"), (#"{"digests":["sha256:zz"]}"#, "digests[0]"),
            (#"{"digests":[], "digests":[]}"#, "duplicate key"), (#"{"digest":[]}"#, "missing key 'digests'"),
        ] {
            let answer = try server.request("POST", "/v1/blobs/missing", key: key, json: json)
            #expect(answer.status == 400 && answer.errorMessage.contains(fragment), "\(json): \(answer.body)")
        }
        let unknownRoute = try server.request("GET", "/v1/nothing", key: key)
        #expect(unknownRoute.status == 404 && unknownRoute.errorMessage.contains("no route"))
        try sandbox.sh("head -c 17000000 /dev/zero | tr '\\0' ' ' > big.json")
        let oversized = try server.request(
            "POST", "/v1/blobs/missing", key: key, bodyFile: "\(sandbox.root)/big.json")
        #expect(oversized.status == 413, "\(oversized.status) \(oversized.body.prefix(200))")

        // A push with a key that cannot push: exit 2, the server's words.
        let reader = try server.makeKey("reader", scopes: ["release:read"])
        let denied = try server.client(["push", second], key: reader)
        #expect(denied.status == 2 && denied.stderr.contains("lacks the scope release:push"), "\(denied.stderr)")
        #expect(try sandbox.fixity(["fsck"], store: server.data).status == 0)
        #expect(try sandbox.fixity(["log", "verify"], store: server.data).status == 0)
    }

    /// SIGTERM stops the server cleanly (exit 0); plain HTTP off loopback is refused unless
    /// asked for in so many words; TLS serves from certificate files.
    @Test func lifecycleListenRulesAndTLS() throws {
        let sandbox = try Sandbox()
        let open = try Sandbox.run(
            Sandbox.binary, ["serve", "--data", "server", "--listen", "0.0.0.0:0"], in: sandbox.root)
        #expect(open.status == 2 && open.stderr.contains("loopback only"))
        let half = try Sandbox.run(
            Sandbox.binary, ["serve", "--data", "server", "--tls-cert", "c.pem"], in: sandbox.root)
        #expect(half.status == 2 && half.stderr.contains("go together"))

        try sandbox.sh(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=localhost 2>/dev/null"
        )
        let tls = try TestServer(
            in: sandbox, extra: ["--tls-cert", "\(sandbox.root)/cert.pem", "--tls-key", "\(sandbox.root)/key.pem"])
        #expect(tls.url.hasPrefix("https://"))
        let health = try sandbox.sh("curl -s -k \(tls.url)/healthz").stdout
        #expect(health == "ok\n")
        #expect(tls.stop(SIGTERM) == 0)

        let plain = try TestServer(in: sandbox)
        let spec = try plain.request("GET", "/openapi.yaml")
        #expect(spec.status == 200 && spec.body.hasPrefix("openapi: 3.1.0"))
        let metrics = try plain.request("GET", "/metrics")
        #expect(metrics.status == 200 && metrics.body.contains("fixity_http_requests_total"))
        #expect(metrics.body.contains("route=\"/openapi.yaml\""))
        #expect(plain.stop(SIGINT) == 0)
    }

    /// The server's spec is docs/api.yaml byte for byte (scripts/embed-api-doc keeps them so).
    @Test func theServedSpecIsTheDocumentedOne() throws {
        let sandbox = try Sandbox()
        let server = try TestServer(in: sandbox)
        let served = try server.request("GET", "/openapi.yaml").body
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/api.yaml")
        let documented = try String(contentsOf: docs, encoding: .utf8)
        #expect(served + "\n" == documented, "run scripts/embed-api-doc after editing docs/api.yaml")

        // Every route documented and nothing undocumented: the spec's paths and methods are the
        // route table's, and the live router answers each (never 404) and refuses other methods (405).
        var documentedRoutes = Set<String>()
        var path = ""
        for line in documented.split(separator: "\n") {
            if line.hasPrefix("  /") && line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()) }
            for method in ["get", "post", "put", "delete", "patch"] where line == "    \(method):" {
                documentedRoutes.insert("\(method.uppercased()) \(path)")
            }
        }
        #expect(documentedRoutes == Set(RouteTable.routes.map { "\($0.method) \($0.template)" }))
        let admin = try server.makeKey("admin", scopes: ["admin"])
        for (method, template) in RouteTable.routes {
            let concrete = template.replacingOccurrences(of: "{ref}", with: "web@1").replacingOccurrences(
                of: "{env}", with: "staging"
            ).replacingOccurrences(of: "{app}", with: "web").replacingOccurrences(of: "{version}", with: "1")
                .replacingOccurrences(of: "{key}", with: "nobody").replacingOccurrences(of: "{name}", with: "nobody")
                .replacingOccurrences(of: "{id}", with: "1")
            let answer = try server.request(method, concrete, key: admin, json: method == "GET" ? nil : "{}")
            #expect(
                answer.status != 405 && (answer.status < 400 || !answer.errorMessage.contains("no route")),
                "\(method) \(concrete)")
            let wrong = try server.request("DELETE", concrete, key: admin)
            #expect(wrong.status == 405 && wrong.headers.lowercased().contains("allow: "), "DELETE \(concrete)")
        }
    }

    /// `log verify --server`: the client recomputes the server's tree from its entries, checks it
    /// against a checkpoint kept from before, and catches history rewritten on the server.
    @Test func aClientAuditsTheServersLedger() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("\(Sandbox.binary) key generate --out log.key >/dev/null 2>&1 && mkdir app && echo a > app/a")
        _ = try sandbox.seal("app", app: "web", extra: ["--tag", "1"])
        let server = try TestServer(in: sandbox, extra: ["--checkpoint-key", "\(sandbox.root)/log.key"])
        let key = try server.makeKey("auditor", scopes: ["ledger:read", "release:push", "release:read"])
        #expect(try server.client(["push", "web@1"], key: key).status == 0)
        let first = try server.client(
            ["log", "verify", "--server-key", "log.key", "--save-checkpoint", "held.txt", "--json"], key: key)
        #expect(first.status == 0, "\(first.stderr)")
        let report = try first.json()
        #expect(report["ok"] as? Bool == true && (report["size"] as? Int ?? 0) > 3)
        #expect(FileManager.default.fileExists(atPath: "\(sandbox.root)/held.txt"))

        // More history later: still an extension of the held checkpoint.
        try sandbox.sh("echo b > app/a")
        _ = try sandbox.seal("app", app: "web", extra: ["--tag", "2"])
        #expect(try server.client(["push", "web@2"], key: key).status == 0)
        let later = try server.client(
            ["log", "verify", "--checkpoint", "held.txt", "--key", "log.key", "--json"], key: key)
        #expect(later.status == 0, "\(later.stderr)")
        #expect(try later.json()["consistent"] as? Bool == true)
        // Proofs over the API check out against the root the audit computed itself.
        let root = try #require(try later.json()["root"] as? String)
        let size = try #require(try later.json()["size"] as? Int)
        let proof = try server.request("GET", "/v1/ledger/proof?seq=2", key: key)
        #expect(proof.status == 200, "\(proof.body)")
        let document = try JSONDecoder().decode(InclusionProof.self, from: Data(proof.body.utf8))
        #expect(document.treeSize == size && document.verifies(against: root))
        let consistency = try server.request("GET", "/v1/ledger/consistency?from=3", key: key).json()
        #expect(consistency["root"] as? String == root && consistency["to"] as? Int == size)
        #expect(try server.request("GET", "/v1/ledger/proof?seq=\(size)", key: key).status == 404)
        // A checkpoint without the key that signed it is not taken on the server's word.
        let keyless = try server.client(["log", "verify", "--checkpoint", "held.txt"], key: key)
        #expect(keyless.status == 2 && keyless.stderr.contains("needs --key"))

        // Someone with the server's disk rewrites an old entry: the audit finds it (exit 1).
        try sandbox.sh(
            "python3 -c \"import sqlite3; c = sqlite3.connect('\(server.data)/fixity.db'); c.executescript(\\\"DROP TRIGGER history_no_update; UPDATE history SET subject = 'forged' WHERE seq = 1;\\\"); c.commit()\""
        )
        let caught = try server.client(
            ["log", "verify", "--checkpoint", "held.txt", "--key", "log.key", "--json"], key: key)
        #expect(caught.status == 1, "\(caught.stdout) \(caught.stderr)")
        #expect(caught.stdout.contains("history it vouched for was rewritten"))
    }

    /// `fixity keys … --server` with an admin key: create, list, rotate with overlap, revoke —
    /// effective at once; other keys cannot; a key near its expiry is warned about.
    @Test(arguments: ServerPolicyTests.modes)
    func keysAreAdministeredOverTheAPI(mode: String) throws {
        let sandbox = try Sandbox()
        let server = try ServerPolicyTests.server(sandbox, mode: mode)
        let admin = try server.makeKey("admin", scopes: ["admin"])
        let made = try server.client(
            ["keys", "create", "--name", "ci", "--scope", "release:read", "--expires", "10d", "--json"], key: admin)
        #expect(made.status == 0, "\(made.stderr)")
        let ci = try #require(try made.json()["key"] as? String)
        #expect(try made.json()["scopes"] as? [String] == ["release:read"])

        // The new key works, and its user is told it expires within 14 days.
        let used = try server.client(["env", "show", "staging"], key: ci)
        #expect(used.status == 0 && used.stderr.contains("expires at"), "\(used.stderr)")
        // It is no admin: it cannot list or make keys.
        let listed = try server.client(["keys", "list"], key: ci)
        #expect(listed.status == 2 && listed.stderr.contains("lacks the scope admin"))

        let list = try server.client(["keys", "list", "--json"], key: admin).json()
        #expect((list["keys"] as? [[String: Any]])?.count == 2)
        let rotated = try server.client(["keys", "rotate", "ci", "--overlap", "0s", "--json"], key: admin)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        let newCI = try #require(try rotated.json()["key"] as? String)
        #expect(try server.client(["env", "show", "staging"], key: ci).status == 2)  // overlap 0s: over
        #expect(try server.client(["env", "show", "staging"], key: newCI).status == 0)
        let revoked = try server.client(["keys", "revoke", "ci"], key: admin)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let after = try server.client(["env", "show", "staging"], key: newCI)
        #expect(after.status == 2 && after.stderr.contains("revoked"))
        let bad = try server.client(["keys", "create", "--name", "x", "--scope", "root"], key: admin)
        #expect(bad.status == 2 && bad.stderr.contains("unknown scope 'root'"))
        #expect(try server.ledger().contains("key-rotate"))
    }
}
