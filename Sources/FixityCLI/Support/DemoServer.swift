import FixityAccess
import FixityCore
import FixityServer
import FixityStore
import Foundation

/// The demo's last step: a control plane started in the demo's folder as its own process (this
/// binary, `fixity serve`), a signed policy set on it, a release pushed and promoted to staging,
/// and a promotion to production refused by the policy — then the server stopped with SIGTERM.
enum DemoServer {
    struct Outcome {
        let push: PushReport
        let staged: DesiredState
        let refusal: String
        let stoppedCleanly: Bool
        let fleet: DemoFleet.Outcome
        let access: DemoAccess.Outcome
    }

    static func run(
        work: String, store: Store, release: ReleaseID, policyText: String, ci: SigningKey,
        say: @escaping @Sendable (String) -> Void
    ) throws -> Outcome {
        let data = "\(work)/server"
        // The demo's keys outlive the expiry warning (14 days): the demo's own output stays clean.
        let keys = try APIKeyStore(store: try Store.open(at: data))
        let (key, _) = try keys.create(name: "demo", owner: "the demo", scopes: [.admin], lifetime: 30 * 86400)
        // The 3 a.m. incident's people: the on-call engineer asks, two others approve.
        var made = [String: String]()
        for (name, scope) in [
            ("oncall", APIKeyScope.accessRequest(env: "staging")), ("alice", .accessApprove(env: "staging")),
            ("bob", .accessApprove(env: "staging")),
        ] {
            made[name] = try keys.create(name: name, owner: "the demo", scopes: [scope], lifetime: 30 * 86400).secret
                .text
        }
        let people = made
        let server = try startServer(data: data, folder: work)
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        say("   fixity serve --data server --listen 127.0.0.1:0  ->  listening on \(server.url)")
        say(
            "   fixity server key create --data server --name demo --scope admin  ->  \(key.displayPrefix)… (shown once)"
        )

        let root = SigningKey.generate()
        let signedText = policyText + "\n[root]\nkeys = [\"\(root.publicKey.policyText)\"]\nthreshold = 1\n"
        let envelope = SignedPolicy.sign(text: signedText, keys: [root])
        let url = server.url
        let (policy, push, staged, refusal) = try waitFor {
            try await ServerClient.session(url: url, key: key.text) { client in
                let policy: PolicyRecord = try await client.upload(.PUT, "/v1/policy", bytes: envelope.jsonBytes())
                let push = try await ReleaseTransfer.push(.id(release), from: store, to: client)
                let staged: DesiredState = try await client.document(
                    .POST, "/v1/environments/staging/promote", body: ["release": release.description])
                var refusal = "ALLOWED (the policy was not enforced!)"
                do {
                    let _: DesiredState = try await client.document(
                        .POST, "/v1/environments/production/promote", body: ["release": release.description])
                } catch let error as ServerClientError where error.status == 409 {
                    refusal = error.message
                }
                return (policy, push, staged, refusal)
            }
        }
        say(
            "   fixity policy set policy.toml --server … --sign root.key  ->  policy \(policy.digest.short) in force (a policy on a server is signed by its [root])"
        )
        say(
            "   fixity push shop@1.3  ->  \(push.blobsSent) of \(push.blobsTotal) blobs sent (\(Output.bytes(push.bytesSent))), \(push.envelopes) signed statements (provenance, approvals, tests) verified on arrival"
        )
        say(
            "   fixity promote shop@1.3 --env staging  ->  staging's desired state is \(staged.release.short) (#\(staged.seq))"
        )
        say("   fixity promote shop@1.3 --env production  ->  refused (409):\n     \(refusal)")
        say("     (known-good in staging is reported by staging's own hosts, never taken from a client's word)")
        say("\n16. The hosts: agents that trust only what they verify, and a rollout that stops itself.")
        let fleet = try waitFor {
            try await ServerClient.session(url: url, key: key.text) { client in
                try await DemoFleet.run(
                    work: work, store: store, client: client, root: root, ci: ci, say: say
                ) {
                    say("\n17. 3 a.m.: checkout is down. Nobody has a shell: a window, approved by two others.")
                    return try await DemoAccess.run(
                        url: url, keys: people, hostRoot: "\(work)/hosts/web-2/root", say: say)
                }
            }
        }
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        let clean = server.process.terminationReason == .exit && server.process.terminationStatus == 0
        say("   SIGTERM  ->  the server \(clean ? "finished its requests and exited 0" : "did NOT stop cleanly")\n")
        return Outcome(
            push: push, staged: staged, refusal: refusal, stoppedCleanly: clean, fleet: fleet.0, access: fleet.1)
    }

    /// This binary as `fixity serve` on a free loopback port, once it says where it listens.
    private static func startServer(data: String, folder: String) throws -> (process: Process, url: String) {
        let out = "\(folder)/serve.out"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: "\(folder)/serve.log", contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["serve", "--data", data, "--listen", "127.0.0.1:0", "--log-level", "warning"]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(folder)/serve.log"))
        try process.run()
        for _ in 0..<400 {
            usleep(25_000)
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) {
                return (process, String(line.dropFirst("listening on ".count)))
            }
            if !process.isRunning { break }
        }
        kill(process.processIdentifier, SIGKILL)
        let log = (try? String(contentsOfFile: "\(folder)/serve.log", encoding: .utf8)) ?? ""
        throw CLIError("the demo's server did not start: \(log.suffix(400))")
    }
}
