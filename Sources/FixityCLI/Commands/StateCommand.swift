import ArgumentParser
import Foundation
import FixityCore
import FixityHost
import FixityLedger
import FixityServer
import FixityStore

/// `fixity state --at TIME (--root ROOT | --env ENV)`: what was live then, with the ledger
/// entries that establish it and their inclusion proofs. With `--server URL`: what the control
/// plane had decided then — each environment's desired state and the policy in force — from the
/// server's ledger, its proofs checked here.
struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Which deployment was live on a root or in an environment at a past instant, with proof.")

    @Option(help: "The instant, RFC 3339 (2026-11-29T03:00:00Z, or with an offset), or 'now'.") var at: String
    @Option(help: "The deploy root (it need not exist any more).") var root: String?
    @Option(help: "An environment: every root its deployments were switched to.") var env: String?
    @OptionGroup var connection: ServerConnectionOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if connection.server != nil {
            guard root == nil else {
                throw ValidationError("--root is a local question; with --server give --env or nothing")
            }
            return
        }
        guard (root == nil) != (env == nil) else {
            throw ValidationError("give exactly one of --root ROOT and --env ENV (or --server URL)")
        }
    }

    func run() throws {
        if connection.server != nil { return try runOnServer() }
        try runReportingFailures {
            let store = try global.openStore()
            let scope: StateAtTime.Scope = root.map { .root(DeployRoot.key(forPath: $0)) } ?? .env(env!)
            let instant = at == "now" ? store.clock.timestamp() : at
            let answer = try StateAtTime(store: store).answer(at: instant, scope: scope)
            if global.json {
                try Output.json(answer)
                return
            }
            Output.line("at \(answer.at), \(answer.scope):")
            for root in answer.roots {
                Output.line("  root \(root.root)")
                guard let active = root.active else {
                    Output.line(
                        "    nothing was live" + (root.nextSwitch.map { " (the next switch was at \($0))" } ?? ""))
                    continue
                }
                Output.line("    deployment \(active.deployment)")
                Output.line(
                    "    release    \(active.release?.description ?? "?")"
                        + (active.tags.isEmpty ? "" : "  (\(active.tags.joined(separator: ", ")))"))
                if let config = active.config {
                    Output.line("    config     \(config) at \(active.configPath ?? "config")")
                }
                if let env = active.env { Output.line("    env        \(env)") }
                Output.line(
                    "    live       since \(active.since)" + (active.until.map { " until \($0)" } ?? ", still live"))
                Output.line("    health     \(active.health)")
                Output.line(
                    "    tree       \(active.drift)" + (active.driftState.map { " (state \($0))" } ?? "")
                        + (active.repairedAt.map { ", repaired at \($0)" } ?? ""))
                // A test result says whether it passed: "attested" alone would read as approval.
                let results = TestResults.byEnvelope(store: store, release: active.release)
                for signature in active.signatures {
                    let by =
                        signature.keyIDs.isEmpty
                        ? "unsigned (recorded)"
                        : "by " + signature.keyIDs.map { String($0.prefix(16)) }.joined(separator: ", ")
                    let result = signature.envelope.flatMap { results[$0] }.map { "\($0) " } ?? ""
                    Output.line("    attested   \(result)\(signature.predicateType) \(by) at \(signature.time)")
                }
            }
            let seqs = answer.proof.map { String($0.entry.seq) }.joined(separator: ", ")
            if let checkpoint = answer.checkpoint {
                Output.line(
                    "proof: entries \(seqs) are in the checkpoint of size \(checkpoint.size), root \(checkpoint.root), signed by \(checkpoint.keyID.prefix(16)) (--json for the proofs)"
                )
            } else {
                Output.line(
                    "proof: entries \(seqs) are in the tree of size \(answer.treeSize), root \(answer.rootHash) (--json for the proofs)"
                )
            }
            for warning in answer.warnings { Output.note(warning) }
        }
    }

    /// The control plane's decisions at the instant, as its ledger proves them.
    private func runOnServer() throws {
        try runReportingFailures {
            let instant = at == "now" ? Instant(Date()).description : at
            let env = env
            let state = try connection.session { client in
                try await ServerState.fetch(at: instant, env: env, from: client)
            }
            if global.json {
                try Output.json(state)
                return
            }
            Output.line("at \(state.at), on the server:")
            if let policy = state.policy {
                Output.line("  policy     \(policy.digest)  in force since \(policy.since) (entry \(policy.seq))")
            } else {
                Output.line("  policy     none had been set")
            }
            if state.environments.isEmpty {
                Output.line(
                    "  " + (env.map { "\($0): no desired state yet" } ?? "no environment had a desired state yet"))
            }
            for desired in state.environments {
                Output.line("  \(desired.env)")
                Output.line("    release  \(desired.release)")
                Output.line(
                    "    since    \(desired.since)" + (desired.until.map { " until \($0)" } ?? ", still standing"))
                Output.line(
                    "    by key   \(desired.key ?? "-") under policy \(desired.policy ?? "-") (entry \(desired.seq))")
            }
            let seqs = state.proof.map { String($0.entry.seq) }.joined(separator: ", ")
            Output.line(
                "proof: entries \(seqs.isEmpty ? "(none)" : seqs) are in the server's tree of size \(state.treeSize), root \(state.rootHash) — checked here (--json for the proofs; fixity log verify --server audits the whole ledger)"
            )
        }
    }
}
