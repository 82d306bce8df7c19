import FixityCore
import FixityHost
import FixityStore

/// Deploy a release (and config) to a root under the policy in force: materialize, switch, run
/// its hooks and health check, roll back on failure (FixityHost's `Deployer`).
package struct DeployRelease: Sendable {
    package let request: DeployRequest
    package let root: DeployRoot

    package init(_ request: DeployRequest, to root: DeployRoot) {
        self.request = request
        self.root = root
    }

    package func run(in store: Store, progress: WorkProgress? = nil) throws -> DeployOutcome {
        try Deployer(store: store, root: root).deploy(request, progress: progress)
    }

    /// A deploy holds a blocking thread for as long as its health check runs.
    package func run(in store: Store, progress: WorkProgress? = nil) async throws -> DeployOutcome {
        try await BlockingWork.run { try run(in: store, progress: progress) }
    }
}

/// Roll a root back to an earlier deployment (by default the newest known-good before the
/// active one), running the target's own hooks and health check.
package struct RollBack: Sendable {
    package let root: DeployRoot
    package let target: RollbackTarget?
    package let lockTimeout: Double
    package let force: Bool

    package init(_ root: DeployRoot, to target: RollbackTarget? = nil, lockTimeout: Double = 60, force: Bool = false) {
        self.root = root
        self.target = target
        self.lockTimeout = lockTimeout
        self.force = force
    }

    package func run(in store: Store, progress: WorkProgress? = nil) throws -> DeployOutcome {
        try Deployer(store: store, root: root).rollback(
            to: target, lockTimeout: lockTimeout, force: force, progress: progress)
    }

    package func run(in store: Store, progress: WorkProgress? = nil) async throws -> DeployOutcome {
        try await BlockingWork.run { try run(in: store, progress: progress) }
    }
}
