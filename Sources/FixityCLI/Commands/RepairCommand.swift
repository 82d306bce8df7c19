import ArgumentParser
import FixityApp
import FixityCore
import FixityHost
import FixityStore

struct RepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Restore a drifted root from the store, keeping what was found as evidence (fixity evidence).")

    @Option(help: "The deploy root.")
    var root: String

    @Flag(help: "Find drift by re-hashing every file instead of trusting the stat snapshot.")
    var full = false

    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for a deploy or rollback on this root.")
    var lockTimeout: Double = 60

    @Flag(
        name: .customLong("allow-shared-root"),
        help: "Use a root (or its .fixity, deployments) owned by another user or writable by group/others.")
    var allowSharedRoot = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let outcome = try RepairRoot(
                try DeployRoot(path: root, create: false, allowShared: allowSharedRoot), full: full,
                lockTimeout: lockTimeout
            ).run(in: store)
            if global.json {
                try Output.json(outcome)
            } else if let evidence = outcome.evidence {
                Output.line(
                    "repaired \(outcome.root): \(outcome.restored.count) restored, \(outcome.removed.count) removed, \(outcome.modesReset.count) modes reset"
                )
                Output.line("evidence kept as \(evidence) (fixity evidence \(evidence))")
                for failure in outcome.failed { Output.note("not repaired: \(failure)") }
            } else {
                Output.line("\(outcome.root) is clean; nothing to repair")
            }
            // Anything left unrepaired (unreadable, swapped under us) is a failure to say so.
            if !outcome.clean || !outcome.failed.isEmpty { throw Exit.failure }
        }
    }
}

struct AdoptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adopt",
        abstract:
            "Seal the live (drifted) tree of a root as a new release, so a hot-fix goes through the pipeline. The root is not switched."
    )

    @Option(help: "The deploy root.")
    var root: String

    @Option(help: "The application the new release belongs to.")
    var app: String

    @Option(help: "Also tag the new release APP@VERSION.")
    var tag: String?

    @Flag(
        name: .customLong("allow-shared-root"),
        help: "Use a root (or its .fixity, deployments) owned by another user or writable by group/others.")
    var allowSharedRoot = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let deployRoot = try DeployRoot(path: root, create: false, allowShared: allowSharedRoot)
            let report = try Adoption(store: store, root: deployRoot).adopt(app: try AppName(parsing: app), tag: tag)
            if global.json { return try Output.json(report) }
            Output.line(report.release.description)
            Output.note(
                "adopted the live tree of \(root) as \(report.app)\(report.tag.map { " (\($0))" } ?? ""); deploy it like any release"
            )
        }
    }
}
