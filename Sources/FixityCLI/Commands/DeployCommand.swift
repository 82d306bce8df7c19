import ArgumentParser
import FixityApp
import FixityCore
import FixityHost
import FixityStore

struct DeployCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Materialize a release on a root, verified, switch to it atomically, and health-check it.",
        discussion: "Exit 1 when the health check failed and the previous deployment was restored.")

    @Argument(help: "The app release: sha256:<hex>, a unique hex prefix, or APP@VERSION.")
    var ref: String

    @Option(help: "The deploy root (ROOT/current points at the active deployment).")
    var root: String

    @Option(
        help:
            "The environment (staging, production …): its policy applies, hooks see it as FIXITY_ENV, and the root is bound to it at its first deploy. Required while a policy is in force (unless it sets default_environment)."
    )
    var env: String?

    @Flag(
        name: .customLong("no-policy"),
        help:
            "Deploy with no environment while a policy is in force, on a root not bound to one (recorded in the ledger)."
    )
    var noPolicy = false

    @Option(help: "A config release mounted inside the app tree.")
    var config: String?

    @Option(name: .customLong("config-path"), help: "Where the config release is mounted (default: config).")
    var configPath: String?

    @Option(
        name: .customLong("health-cmd"),
        help: "Run by /bin/sh -c in the new tree after the switch; non-zero or timeout rolls back.")
    var healthCommand: String?

    @Option(
        name: .customLong("health-timeout"), parsing: .unconditional,
        help: "Seconds before a hook or health check is killed and counted as failed (default 30).")
    var healthTimeout: Double?

    @Option(
        name: .customLong("on-activate"),
        help:
            "Run after the switch, before the health check (e.g. a service reload). Hooks get only stdin/stdout/stderr; Fixity waits for the hook process itself, not its children, so a hook may start a daemon and return (killed with its process group at the timeout)."
    )
    var onActivate: String?

    // .unconditional: "--keep -1" is a bad value to name, not a missing one.
    @Option(parsing: .unconditional, help: "Known-good deployments kept materialized for instant rollback (default 3).")
    var keep: Int?

    @Option(
        help:
            "auto (reflink where possible, else copy), reflink, copy, or hardlink (opt-in: live files share inodes with the store's link sources; see docs/design.md)."
    )
    var link: String?

    @Option(
        name: .customLong("verify-sources"),
        help:
            "Hardlink mode: 'stamped' trusts a link source whose stat matches its verified stamp (docs/design.md), 'always' re-hashes every one."
    )
    var verifySources: String?

    @Flag(help: "Set the Linux immutable attribute on the materialized tree.")
    var immutable = false

    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for another deploy or rollback on this root.")
    var lockTimeout: Double = 60

    @Flag(help: "Deploy even a deployment that is known-bad on this root.")
    var force = false

    @Flag(
        name: .customLong("allow-shared-root"),
        help: "Use a root (or its .fixity, deployments) owned by another user or writable by group/others.")
    var allowSharedRoot = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let keep, keep < 1 {
            throw ValidationError(
                "--keep must be at least 1 (got \(keep)): the active deployment and one known-good to roll back to")
        }
        if let healthTimeout, healthTimeout <= 0 {
            throw ValidationError("--health-timeout must be a positive number of seconds (got \(healthTimeout))")
        }
        if lockTimeout < 0 { throw ValidationError("--lock-timeout must not be negative") }
        if let link, LinkMode(rawValue: link) == nil {
            throw ValidationError("--link must be auto, reflink, copy or hardlink")
        }
        if configPath != nil && config == nil { throw ValidationError("--config-path needs --config") }
        if let verifySources, SourceVerification(rawValue: verifySources) == nil {
            throw ValidationError("--verify-sources must be stamped or always")
        }
    }

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            var request = DeployRequest(release: try store.resolve(try parseRef(ref)))
            request.config = try config.map { try store.resolve(try parseRef($0)) }
            request.env = env
            request.healthCommand = healthCommand
            request.healthTimeout = healthTimeout
            request.onActivate = onActivate
            request.keep = keep
            request.linkMode = link.flatMap(LinkMode.init(rawValue:))
            request.configPath = configPath
            request.immutable = immutable ? true : nil
            request.lockTimeout = lockTimeout
            request.force = force
            request.noPolicy = noPolicy
            request.verifySources = verifySources.flatMap(SourceVerification.init(rawValue:)) ?? .stamped
            let deployRoot = try DeployRoot(path: root, allowShared: allowSharedRoot)
            let progress = ProgressLine(enabled: global.showsProgress, verb: "materializing")
            defer { progress.finish() }
            let outcome = try DeployRelease(request, to: deployRoot).run(in: store, progress: progress.reporter)
            progress.finish()
            try DeployReport.print(outcome, json: global.json)
            if outcome.result == .rolledBack { throw Exit.finding }
        }
    }
}

/// Human and JSON output shared by deploy and rollback.
enum DeployReport {
    static func print(_ outcome: DeployOutcome, json: Bool) throws {
        if json {
            try Output.json(outcome)
            return
        }
        for warning in outcome.warnings { Output.note("warning: \(warning)") }
        switch outcome.result {
        case .unchanged:
            Output.line("\(outcome.deployment) is already active on \(outcome.root); nothing to do")
        case .activated:
            Output.line(
                "\(outcome.root)/current -> \(outcome.deployment.short) (release \(outcome.release.short)\(outcome.config.map { ", config \($0.short)" } ?? ""))"
            )
            if let health = outcome.health {
                Output.note("health check passed in \(String(format: "%.2f", health.seconds)) s")
            }
        case .rolledBack:
            let run = outcome.health ?? outcome.onActivate
            Output.line(
                "FAILED: \(outcome.deployment.short) \(run.map { "'\($0.command)' " + ($0.timedOut ? "timed out" : "exited \($0.exitCode ?? -1)") } ?? "failed"); marked known-bad"
            )
            if let target = outcome.rolledBackTo {
                Output.line("rolled back: \(outcome.root)/current -> \(target.short)")
            } else {
                Output.line("no earlier deployment to return to: \(outcome.root)/current removed")
            }
            if let tail = run?.outputTail, !tail.isEmpty { Output.note("--- output (tail) ---\n\(tail)") }
        }
        if !outcome.removed.isEmpty {
            let bad = outcome.removedKnownBad.count
            let good = outcome.removed.count - bad
            let parts =
                (good > 0 ? ["\(good) older deployment(s) beyond --keep"] : [])
                + (bad > 0 ? ["\(bad) known-bad one(s)"] : [])
            Output.note("removed " + parts.joined(separator: " and "))
        }
    }
}
