import ArgumentParser
import FixityApp
import FixityCore
import FixityHost
import FixityStore

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Switch a root back to the newest known-good deployment older than the active one.",
        discussion: """
            The target's own on-activate hook and health check run (those it was deployed with), \
            with its own FIXITY_RELEASE and FIXITY_DEPLOYMENT. When they fail, the target is marked \
            known-bad, what was live before comes back, and the exit code is 1.
            """)

    @Option(help: "The deploy root.")
    var root: String

    @Option(help: "A release (its latest known-good deployment on this root, config included) or a deployment id.")
    var to: String?

    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for another deploy or rollback.")
    var lockTimeout: Double = 60

    @Flag(help: "Roll back even to a deployment that is known-bad on this root.")
    var force = false

    @Flag(
        name: .customLong("allow-shared-root"),
        help: "Use a root (or its .fixity, deployments) owned by another user or writable by group/others.")
    var allowSharedRoot = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let deployRoot = try DeployRoot(path: root, create: false, allowShared: allowSharedRoot)
            let target = try to.map { try resolveTarget($0, store: store, root: deployRoot) }
            let outcome = try RollBack(deployRoot, to: target, lockTimeout: lockTimeout, force: force).run(in: store)
            try DeployReport.print(outcome, json: global.json)
            if outcome.result == .rolledBack { throw Exit.finding }
        }
    }

    /// A deployment id this root has seen wins over a release of the same spelling.
    private func resolveTarget(_ text: String, store: Store, root: DeployRoot) throws -> RollbackTarget {
        let hex = text.hasPrefix(Digest.algorithmPrefix) ? String(text.dropFirst(Digest.algorithmPrefix.count)) : text
        let known = try RootState(store: store, root: root).all()
        let matches = known.filter { $0.deployment.hex.hasPrefix(hex) }
        if Hex.isLowercaseHex(hex), hex.count >= Ref.minimumPrefixLength, matches.count == 1 {
            return .deployment(matches[0].deployment)
        }
        return .release(try store.resolve(try parseRef(text)))
    }
}
