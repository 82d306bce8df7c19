import ArgumentParser
import FixityAgent
import FixityCore
import FixityHost
import FixityStore
import Foundation

/// `fixity agent`: run the host's agent (docs/agent.md); `fixity agent install`: its systemd unit.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run this host's agent: pull, verify, converge, watch for drift, report.",
        subcommands: [Run.self, Install.self], defaultSubcommand: Run.self)

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run the agent (the default: `fixity agent --root ROOT --identity FILE`).",
            discussion: """
                With --once: one cycle, then exit 0 when converged and healthy (drift repaired under drift = "repair" \
                included), 1 when the deploy was rolled back by its health check or the live tree drifted and the \
                policy says drift = "report", 2 when the desired state was refused (policy, signature, bad input), naming why.
                """)
        @Option(help: "The server (default: the one the host enrolled with).") var server: String?
        @Option(help: "The deploy root the agent keeps.") var root: String
        @Option(help: "The host identity made by `fixity host enroll`.") var identity: String
        @Flag(help: "One cycle, then exit with its outcome.") var once = false
        @Option(help: "How long a poll is held, and the heartbeat period (e.g. 30s).") var interval = "30s"
        @Option(name: .customLong("metrics-file"), help: "Write a Prometheus textfile after each cycle.")
        var metricsFile: String?
        @Flag(
            name: .customLong("allow-shared-root"),
            help: "Use a root (or its .fixity, deployments) owned by another user or writable by group/others.")
        var allowSharedRoot = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let seconds = try HumanDuration.seconds(interval, maximum: 300, what: "--interval")
                let identity = try KeyFiles.loadIdentity(self.identity)
                let store = try global.openStore()
                let settings = AgentSettings(
                    identity: identity, server: server,
                    root: try DeployRoot(path: root, allowShared: allowSharedRoot), interval: seconds,
                    metricsFile: metricsFile)
                let agent = Agent(settings: settings, store: store) { line in
                    StandardStream.error.write(
                        Data("\(Instant(Date()).description) fixity agent \(identity.host): \(line)\n".utf8))
                }
                if once {
                    let outcome = try waitFor { try await agent.runOnce() }
                    switch outcome {
                    case .converged:
                        Output.line("converged")
                    case .rolledBack(let why):
                        Output.line("rolled back: \(why)")
                        throw Exit.finding
                    case .refused(let why):
                        throw CLIError("refused the desired state: \(why)")
                    case .drifted(let why):
                        Output.line("drifted: \(why)")
                        throw Exit.finding
                    case .repaired(let why):
                        Output.line("converged: \(why)")
                    }
                    return
                }
                try waitFor { try await agent.run() }
            }
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a hardened systemd unit that runs the agent (it is not enabled or started).",
            discussion: """
                The unit's store is --store, else /var/lib/fixity/store; never $FIXITY_STORE or the installing user's \
                home, which the service does not share.
                """)
        @Option(help: "The server (default: the one the host enrolled with).") var server: String?
        @Option(help: "The host identity made by `fixity host enroll`.") var identity: String
        @Option(help: "The deploy root the agent keeps.") var root: String
        @Option(help: "How long a poll is held (e.g. 30s).") var interval = "30s"
        @Option(help: "Where to write the unit.") var unit = "/etc/systemd/system/fixity-agent.service"
        @Option(help: "The fixity binary the unit runs (default: this one).") var executable: String?
        @OptionGroup var global: GlobalOptions

        /// The store a service keeps without `--store`: a system path, never the installing
        /// shell's `$FIXITY_STORE` or home folder (the unit outlives that shell and its user).
        static let serviceStore = "/var/lib/fixity/store"

        func run() throws {
            try runReportingFailures {
                let seconds = try HumanDuration.seconds(interval, maximum: 300, what: "--interval")
                let loaded = try KeyFiles.loadIdentity(identity)
                func absolute(_ path: String) -> String {
                    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
                }
                let binary = executable ?? absolute(CommandLine.arguments[0])
                let text = AgentUnit.text(
                    executable: binary, server: server ?? loaded.server, identity: absolute(identity),
                    root: absolute(root), store: absolute(global.store ?? Self.serviceStore), interval: seconds)
                try DurableFile.replace(unit, with: Array(text.utf8))
                if global.json { return try Output.json(["unit": unit]) }
                Output.line(
                    "wrote \(unit); enable it with: systemctl daemon-reload && systemctl enable --now \(URL(fileURLWithPath: unit).lastPathComponent)"
                )
            }
        }
    }
}
