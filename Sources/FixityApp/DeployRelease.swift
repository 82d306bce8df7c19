import FixityCore
import FixityHost
import FixityStore

/// Deploy a release (and config) to a root under the policy in force: materialize, switch, run
/// its hooks and health check, roll back on failure (FixityHost's `Deployer`).
public struct DeployRelease: Sendable {
    public let request: DeployRequest
    public let root: DeployRoot

    public init(_ request: DeployRequest, to root: DeployRoot) {
        self.request = request
        self.root = root
    }

    public func run(in store: Store, progress: WorkProgress? = nil) throws -> DeployOutcome {
        try Deployer(store: store, root: root).deploy(request, progress: progress)
    }

    /// A deploy holds a blocking thread for as long as its health check runs.
    public func run(in store: Store, progress: WorkProgress? = nil) async throws -> DeployOutcome {
        try await BlockingWork.run { try run(in: store, progress: progress) }
    }
}

/// Roll a root back to an earlier deployment (by default the newest known-good before the
/// active one), running the target's own hooks and health check.
public struct RollBack: Sendable {
    public let root: DeployRoot
    public let target: RollbackTarget?
    public let lockTimeout: Double
    public let force: Bool

    public init(_ root: DeployRoot, to target: RollbackTarget? = nil, lockTimeout: Double = 60, force: Bool = false) {
        self.root = root
        self.target = target
        self.lockTimeout = lockTimeout
        self.force = force
    }

    public func run(in store: Store, progress: WorkProgress? = nil) throws -> DeployOutcome {
        try Deployer(store: store, root: root).rollback(
            to: target, lockTimeout: lockTimeout, force: force, progress: progress)
    }

    public func run(in store: Store, progress: WorkProgress? = nil) async throws -> DeployOutcome {
        try await BlockingWork.run { try run(in: store, progress: progress) }
    }
}
