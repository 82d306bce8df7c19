import FixityCore
import FixityHost
import FixityStore

/// Compare a root's live tree with its deployment's manifest, and record a change of drift
/// state in the ledger (each distinct state once).
package struct VerifyRoot: Sendable {
    package let root: DeployRoot
    package let full: Bool

    package init(_ root: DeployRoot, full: Bool = false) {
        self.root = root
        self.full = full
    }

    package func run(in store: Store, progress: WorkProgress? = nil) throws -> VerifyOutcome {
        let outcome = try DriftScanner(store: store, root: root).scan(full: full, progress: progress)
        try RootState(store: store, root: root).recordDrift(outcome)
        return outcome
    }

    package func run(in store: Store, progress: WorkProgress? = nil) async throws -> VerifyOutcome {
        try await BlockingWork.run { try run(in: store, progress: progress) }
    }
}

/// Put a drifted root back to its manifest, keeping what was found as evidence.
package struct RepairRoot: Sendable {
    package let root: DeployRoot
    package let full: Bool
    package let lockTimeout: Double
    /// Repair just these paths (nil: every drifted one).
    package let only: Set<String>?

    package init(_ root: DeployRoot, full: Bool = false, lockTimeout: Double = 60, only: Set<String>? = nil) {
        self.root = root
        self.full = full
        self.lockTimeout = lockTimeout
        self.only = only
    }

    package func run(in store: Store) throws -> RepairOutcome {
        try Repairer(store: store, root: root).repair(full: full, lockTimeout: lockTimeout, only: only)
    }

    package func run(in store: Store) async throws -> RepairOutcome {
        try await BlockingWork.run { try run(in: store) }
    }
}
