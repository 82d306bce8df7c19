import FixityCore
import FixityServer
import FixityStore
import FixityTrust
import Foundation

/// The demo's fleet (docs/agent.md): three hosts enrolled in staging, each running `fixity
/// agent` as its own process with its own store and root in the demo's folder; a release rolled
/// out in two waves; a broken one halted in its first wave, its host back on the good release
/// and the others never touched.
enum DemoFleet {
    struct Outcome {
        let converged: Bool
        let rolledOut: Bool
        let halted: Bool
        let untouched: Bool
    }

    /// `then` runs while the agents still do (the access window's step).
    static func run(
        work: String, store: Store, client: ServerClient, root: SigningKey, ci: SigningKey,
        say: @escaping (String) -> Void, then: () async throws -> DemoAccess.Outcome
    ) async throws -> (Outcome, DemoAccess.Outcome) {
        let hosts = ["web-1", "web-2", "web-3"]
        let folder = "\(work)/hosts"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for host in hosts {
            let key = SigningKey.generate()
            let identity = HostIdentity(
                host: host, env: "staging", server: client.base, key: key,
                policyRoot: try RootRole(keys: [root.publicKey], threshold: 1))
            try KeyFiles.createSecret(identity.fileBytes(), at: "\(folder)/\(host).id", what: "an identity")
            let _: HostView = try await client.document(
                .POST, "/v1/hosts",
                body: HostEnrollment(name: host, env: "staging", publicKey: key.publicKey.policyText))
        }
        say(
            "   fixity host enroll --env staging --name web-1 … (three hosts; each pins the policy root, not the server)"
        )
        let agents = try hosts.map { try startAgent($0, folder: folder, server: client.base) }
        defer {
            for agent in agents where agent.isRunning { kill(agent.processIdentifier, SIGTERM) }
            for agent in agents {
                for _ in 0..<50 where agent.isRunning { usleep(100_000) }
                if agent.isRunning { kill(agent.processIdentifier, SIGKILL) }
                agent.waitUntilExit()
            }
        }
        say(
            "   fixity agent --root hosts/web-N/root --identity hosts/web-N.id  (x3: no open port, every request signed)"
        )
        let desired: DesiredState = try await client.document(.GET, "/v1/environments/staging/desired")
        let converged = try await waitFor(hosts, on: desired.release, client)
        say(
            "   every host verified the policy and shop@1.3 itself and runs it: \(converged ? "converged" : "NOT converged")"
        )

        // 1.4 in two waves; then 1.5, whose health check fails, halted in its first wave.
        let good = try seal(work: work, store: store, version: "1.4", broken: false, ci: ci)
        let bad = try seal(work: work, store: store, version: "1.5", broken: true, ci: ci)
        for release in [good, bad] { _ = try await ReleaseTransfer.push(.id(release), from: store, to: client) }
        let plan = try RolloutPlan(waves: [33, 100], bakeSeconds: 1, maxFailed: 0)
        struct Promotion: Encodable, Sendable {
            let release: String
            let rollout: RolloutPlan
        }
        let _: DesiredState = try await client.document(
            .POST, "/v1/environments/staging/promote", body: Promotion(release: good.description, rollout: plan))
        let first = try await waitForRollout(client) { $0 != "running" }
        let rolledOut = first?.state == "completed"
        say(
            "   fixity promote shop@1.4 --env staging --waves 33%,100% --bake 1s  ->  \(first?.state ?? "?"): wave 1 \(hostsOf(first, wave: 0)), then wave 2 \(hostsOf(first, wave: 1))"
        )
        let _: DesiredState = try await client.document(
            .POST, "/v1/environments/staging/promote", body: Promotion(release: bad.description, rollout: plan))
        let second = try await waitForRollout(client) { $0 != "running" }
        let halted = second?.state == "halted"
        say(
            "   fixity promote shop@1.5 --env staging --waves 33%,100%  ->  \(second?.state ?? "?"): \(second?.reason ?? "")"
        )
        let back = try await waitFor(hosts, on: good, client)
        let untouched = hosts.dropFirst().allSatisfy {
            (try? Store.open(at: "\(folder)/\($0)/store").manifest(bad)) == nil
        }
        say(
            "   web-1 rolled itself back (its health check), every host runs shop@1.4 again: \(back ? "yes" : "NO"); web-2 and web-3 never pulled 1.5: \(untouched ? "yes" : "NO")"
        )
        let after = try await then()
        return (
            Outcome(converged: converged, rolledOut: rolledOut, halted: halted && back, untouched: untouched), after
        )
    }

    private static func startAgent(_ host: String, folder: String, server: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = [
            "agent", "--server", server, "--root", "\(folder)/\(host)/root", "--identity", "\(folder)/\(host).id",
            "--store", "\(folder)/\(host)/store", "--interval", "2s",
        ]
        let log = "\(folder)/\(host).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    private static func seal(work: String, store: Store, version: String, broken: Bool, ci: SigningKey) throws
        -> ReleaseID
    {
        try DemoTree.applyVersion(version, at: "\(work)/build", broken: broken)
        let sealed = try store.seal(directory: "\(work)/build", app: try AppName(parsing: "shop"), tag: version)
        try Attestations(store: store).approve(sealed.release, key: ci, role: "ci")
        return sealed.release
    }

    private static func waitFor(_ hosts: [String], on release: ReleaseID, _ client: ServerClient) async throws -> Bool {
        for _ in 0..<300 {
            let views: [HostView] = try await client.document(.GET, "/v1/hosts?env=staging")
            if views.count == hosts.count,
                views.allSatisfy({ $0.release == release.description && $0.state == "converged" })
            {
                return true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    private static func waitForRollout(_ client: ServerClient, until done: (String) -> Bool) async throws
        -> RolloutView?
    {
        var last: RolloutView?
        for _ in 0..<300 {
            last = try await client.document(.GET, "/v1/rollouts/staging")
            if let state = last?.state, done(state) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        return last
    }

    private static func hostsOf(_ rollout: RolloutView?, wave: Int) -> String {
        let names = rollout?.hosts.filter { $0.wave == wave }.map { "\($0.name) \($0.state)" } ?? []
        return names.isEmpty ? "-" : names.joined(separator: ", ")
    }
}
