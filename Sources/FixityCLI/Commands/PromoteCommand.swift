import ArgumentParser
import FixityCore
import FixityServer
import Foundation

/// `fixity promote REF --env ENV`: asks the server to make REF the environment's desired state.
/// The server decides under its policy — the same evaluator as a local `deploy --env` — and
/// either sets it (a ledger entry) or refuses with the policy's reason (exit 2).
struct PromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote", abstract: "Set an environment's desired state on a server, if its policy allows.",
        discussion: "Needs a key with promote:ENV. The release must be on the server (fixity push).")

    @Argument(help: "The release on the server: sha256:<hex>, a unique hex prefix, or APP@VERSION.") var ref: String
    @Option(help: "The environment.") var env: String
    @Option(
        help:
            "Roll out in waves: cumulative shares of the environment's hosts, e.g. 5%,25%,100% (each wave waits for the last to be healthy)."
    )
    var waves: String?
    @Option(help: "With --waves: how long a healthy wave bakes before the next starts (e.g. 60s).") var bake: String?
    @Option(
        name: .customLong("max-failed"),
        help: "With --waves: failed hosts a wave may have; one more halts the rollout and returns every moved host.")
    var maxFailed: Int?
    @OptionGroup var connection: ServerConnectionOptions
    @OptionGroup var global: GlobalOptions

    struct Body: Encodable, Sendable {
        let release: String
        let rollout: RolloutPlan?
    }

    func run() throws {
        try runReportingFailures {
            _ = try parseRef(ref)
            _ = try APIKeyScope(parsing: "promote:\(env)")
            let body = Body(release: ref, rollout: try plan())
            let desired = try connection.session { client -> DesiredState in
                try await client.document(.POST, "/v1/environments/\(env)/promote", body: body)
            }
            if global.json { return try Output.json(desired) }
            Output.line("\(env) -> \(desired.release) (desired state #\(desired.seq), policy \(desired.policy.short))")
            if let plan = body.rollout {
                Output.note(
                    "rolling out in waves \(plan.waves.map { "\($0)%" }.joined(separator: ", ")), bake \(plan.bakeSeconds) s, max failed \(plan.maxFailed): fixity rollout show \(env)"
                )
            }
        }
    }

    private func plan() throws -> RolloutPlan? {
        guard let waves else {
            if bake != nil || maxFailed != nil { throw CLIError("--bake and --max-failed need --waves") }
            return nil
        }
        let shares = try waves.split(separator: ",", omittingEmptySubsequences: false).map { item -> Int in
            let text = item.trimmingCharacters(in: .whitespaces)
            guard text.hasSuffix("%"), let share = Int(text.dropLast()) else {
                throw CLIError("--waves '\(waves)': a list of percentages such as 5%,25%,100%")
            }
            return share
        }
        let bakeSeconds = try bake.map { try HumanDuration.seconds($0, maximum: 86_400, what: "--bake") } ?? 0
        return try RolloutPlan(waves: shares, bakeSeconds: bakeSeconds, maxFailed: maxFailed ?? 0)
    }
}

/// `fixity env show ENV`: what the server says an environment should run, and under which policy.
struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env", abstract: "Environments on a server.", subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An environment's desired state and the policy in force (a release:read key is enough).")
        @Argument(help: "The environment.") var env: String
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                _ = try APIKeyScope(parsing: "promote:\(env)")
                let view = try connection.session { client -> EnvironmentView in
                    try await client.document(.GET, "/v1/environments/\(env)")
                }
                if global.json { return try Output.json(view) }
                Output.line("environment \(view.env)")
                if let desired = view.desired {
                    Output.line(
                        "  desired  \(desired.release) (#\(desired.seq), set \(desired.setAt) by key \(desired.key))")
                } else {
                    Output.line("  desired  none yet")
                }
                Output.line("  policy   \(view.policy?.description ?? "none set")")
                if let rules = view.rules {
                    Output.line(
                        "  rules    \(rules.threshold) of [\(rules.trustedKeys.joined(separator: ", "))]"
                            + (rules.requireKnownGoodIn.isEmpty
                                ? "" : "; known-good in \(rules.requireKnownGoodIn.joined(separator: ", "))")
                            + (rules.requireTests ? "; passing tests" : ""))
                } else if view.policy != nil {
                    Output.line("  rules    the policy does not define \(view.env): promotions to it are refused")
                }
                if let rollout = view.rollout {
                    Output.line(
                        "  rollout  #\(rollout.id) \(rollout.state), wave \(rollout.wave + 1) of \(rollout.waves.count) (fixity rollout show \(view.env))"
                    )
                }
                if let why = view.fleetUnavailable {
                    Output.line("  hosts    not known here: \(why)")
                    return
                }
                let hosts = view.hosts ?? []
                let counts = Dictionary(grouping: hosts, by: \.state).map { "\($0.value.count) \($0.key)" }.sorted()
                Output.line(
                    "  hosts    \(hosts.count)" + (counts.isEmpty ? "" : " (\(counts.joined(separator: ", ")))"))
                HostTable.print(hosts)
            }
        }
    }
}
