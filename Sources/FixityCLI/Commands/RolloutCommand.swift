import ArgumentParser
import FixityCore
import FixityServer
import Foundation

/// `fixity rollout show|pause|resume|abort ENV`: an environment's newest rollout, wave by wave,
/// and an operator's hand on it (docs/agent.md, "Rollouts").
struct RolloutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout", abstract: "Phased rollouts on a server.",
        subcommands: [Show.self, Pause.self, Resume.self, Abort.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An environment's newest rollout: its waves, hosts and their states (a release:read key).")
        @Argument(help: "The environment.") var env: String
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                _ = try APIKeyScope(parsing: "promote:\(env)")
                let rollout = try connection.session { client -> RolloutView in
                    try await client.document(.GET, "/v1/rollouts/\(env)")
                }
                if global.json { return try Output.json(rollout) }
                RolloutCommand.print(rollout)
            }
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hold the environment's rollout where it stands: no further wave starts (a promote:ENV key).")
        @OptionGroup var control: ControlOptions
        func run() throws { try control.send(.pause) }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let a paused rollout go on from where it stood (a promote:ENV key).")
        @OptionGroup var control: ControlOptions
        func run() throws { try control.send(.resume) }
    }

    struct Abort: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Stop the environment's rollout and return its hosts to the previous release, if the policy still allows it there (a promote:ENV key)."
        )
        @OptionGroup var control: ControlOptions
        func run() throws { try control.send(.abort) }
    }

    /// What pause, resume and abort share: the environment, why, the server.
    struct ControlOptions: ParsableArguments {
        @Argument(help: "The environment.") var env: String
        @Option(help: "Why (kept in the ledger entry).") var reason: String?
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func send(_ control: RolloutControl) throws {
            try runReportingFailures {
                _ = try APIKeyScope(parsing: "promote:\(env)")
                let body = RolloutControlBody(reason: reason)
                let rollout = try connection.session { client -> RolloutView in
                    try await client.document(.POST, "/v1/rollouts/\(env)/\(control.rawValue)", body: body)
                }
                if global.json { return try Output.json(rollout) }
                RolloutCommand.print(rollout)
            }
        }
    }

    static func print(_ rollout: RolloutView) {
        Output.line(
            "rollout #\(rollout.id) of \(rollout.env): \(rollout.state) — release \(rollout.release), previous \(rollout.previous)"
        )
        Output.line(
            "  started \(rollout.startedAt); bake \(rollout.bakeSeconds) s; max failed per wave \(rollout.maxFailed)"
                + (rollout.finishedAt.map { "; finished \($0)" } ?? ""))
        if let reason = rollout.reason { Output.line("  \(TerminalText.escaped(reason))") }
        for (index, share) in rollout.waves.enumerated() {
            let hosts = rollout.hosts.filter { $0.wave == index }
            let active = rollout.state == "running" || rollout.state == "paused"
            let mark =
                index == rollout.wave && active ? " <- current\(rollout.state == "paused" ? " (paused)" : "")" : ""
            Output.line("  wave \(index + 1) (\(share)%)\(mark)")
            for host in hosts {
                Output.line("    \(host.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(host.state)")
            }
        }
    }
}
