import FixityCore
import Foundation
import Testing

/// The server's writes under SIGKILL and dropped connections: nothing half-received is ever
/// visible, its store and ledger check out after every kill, and a retried push completes.
@Suite struct ServerKillTests {
    @Test func aServerKilledMidPushLeavesACleanStoreAndTheRetryCompletes() throws {
        let sandbox = try Sandbox()
        // 48 MiB in 96 files: a push takes long enough on loopback to be cut in the middle.
        try sandbox.sh(
            "mkdir big && for i in $(seq 1 96); do head -c 524288 /dev/urandom > big/f$i; done && echo v1 > big/VERSION"
        )
        let id = try sandbox.seal("big", app: "big", extra: ["--tag", "1"])
        var kills = 0
        var generator = SystemRandomNumberGenerator()
        for round in 0..<6 {
            let server = try TestServer(in: sandbox)
            let key = try server.makeKey("ci-\(round)", scopes: ["release:push", "release:read"])
            let push = try server.startPush("big@1", key: key)
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.4, using: &generator))
            if push.isRunning {
                kills += 1
            }
            _ = server.stop(SIGKILL)
            push.waitUntilExit()
            #expect(try sandbox.fixity(["fsck"], store: server.data).status == 0, "round \(round)")
            let ledger = try sandbox.fixity(["log", "verify"], store: server.data)
            #expect(ledger.status == 0, "round \(round): \(ledger.stdout) \(ledger.stderr)")
            // fsck above checked every recorded release whole: whatever the kill cut is absent.
        }
        #expect(kills >= 2, "too few pushes were cut (\(kills)) for the test to mean anything")

        // The retry to a fresh server on the same data completes, and the release pulls back whole.
        let server = try TestServer(in: sandbox)
        let key = try server.makeKey("final", scopes: ["release:push", "release:read"])
        let retried = try server.client(["push", "big@1", "--json"], key: key)
        #expect(retried.status == 0, "\(retried.stderr)")
        let pulled = try server.client(["pull", "big@1", "--json"], key: key, store: "\(sandbox.root)/other")
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try pulled.json()["release"] as? String == id)
        #expect(try sandbox.fixity(["fsck"], store: "\(sandbox.root)/other").status == 0)
        // gc on the server removes what the kills left in tmp/ and keeps every object of the release.
        #expect(server.stop() == 0)
        #expect(try sandbox.fixity(["gc"], store: server.data).status == 0)
        #expect(try sandbox.fixity(["fsck"], store: server.data).status == 0)
    }

    /// A client that drops its connection in the middle of a blob: the server discards what it
    /// had received (no temp file stays behind, no object appears) and keeps serving.
    @Test func aConnectionDroppedMidBlobLeavesNothing() throws {
        let sandbox = try Sandbox()
        let server = try TestServer(in: sandbox)
        let key = try server.makeKey("ci", scopes: ["release:push"])
        let payload = [UInt8](repeating: 7, count: 4 << 20)
        var pack = BlobPack.opening + BlobPack.frameHeader(Digest.of(payload), size: UInt64(payload.count))
        pack += payload.prefix(1 << 20)
        try Data(pack).write(to: URL(fileURLWithPath: "\(sandbox.root)/partial.pack"))
        let port = try #require(server.url.split(separator: ":").last.map(String.init))
        // Announces the whole pack, sends a quarter of the blob, and hangs up.
        try sandbox.sh(
            """
            python3 - <<'PY'
            import socket, time
            body = open('partial.pack', 'rb').read()
            s = socket.create_connection(('127.0.0.1', \(port)))
            head = ('POST /v1/blobs HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer \(key)\\r\\n'
                    'Content-Type: application/vnd.fixity.blobs.v1\\r\\nContent-Length: %d\\r\\n\\r\\n' % (len(body) + (3 << 20) + 40))
            s.sendall(head.encode() + body)
            time.sleep(0.3)
            s.close()
            PY
            """)
        var leftovers = "?"
        for _ in 0..<40 {
            usleep(50_000)
            leftovers = try sandbox.sh("find \(server.data)/tmp -type f | wc -l").stdout.trimmingCharacters(
                in: .whitespacesAndNewlines)
            if leftovers == "0" { break }
        }
        #expect(leftovers == "0", "the dropped upload left temp files")
        #expect(
            !FileManager.default.fileExists(atPath: "\(server.data)/objects/sha256/\(Digest.of(payload).hex.prefix(2))")
        )
        #expect(try server.request("GET", "/healthz").status == 200)
        // The failed upload is on record as a client error, not a server fault.
        let ledger = try server.ledger()
        #expect(ledger.contains("\"route\":\"/v1/blobs\",\"status\":\"400\""), "\(ledger.suffix(400))")
    }

    /// tests/hostile/client.py: raw-socket clients that lie about sizes, flood headers, smuggle,
    /// send garbage, drip, and abandon 200 uploads at once. Each is refused with a 4xx (never a
    /// 5xx, never an internal error in the log) and the server keeps answering.
    @Test(arguments: ServerPolicyTests.modes)
    func hostileClientsAreRefusedAndTheServerStaysUp(mode: String) throws {
        let sandbox = try Sandbox()
        let server = try ServerPolicyTests.server(sandbox, mode: mode)
        let key = try server.makeKey("admin", scopes: ["admin"])
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tests/hostile/client.py").path
        let run = try Sandbox.run("/usr/bin/env", ["python3", script, server.url, key], in: sandbox.root)
        #expect(run.status == 0, "\(run.stderr)")
        let cases = try #require(try run.json()["cases"] as? [String: [String: Any]])
        #expect(cases.count == 10)
        let expected: [String: Int] = [
            "absurd content-length": 413, "huge header": 400, "header flood": 400,
            "content-length and chunked": 400, "bad chunk size": 400, "garbage": 400, "hostile path": 400,
            "oversized blob claim": 400, "dripped request": 200,
        ]
        for (name, result) in cases {
            #expect(result["alive"] as? Bool == true, "\(name): the server stopped answering")
            if let status = expected[name] { #expect(result["answer"] as? Int == status, "\(name): \(result)") }
        }
        #expect(try server.request("GET", "/healthz").status == 200)
        let log = (try? String(contentsOfFile: server.log, encoding: .utf8)) ?? ""
        #expect(!log.contains("internal error"), "\(log.suffix(600))")
    }
}
