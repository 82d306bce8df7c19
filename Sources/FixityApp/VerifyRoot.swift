import FixityCore
import FixityHost
import FixityStore

/// Compare a root's live tree with its deployment's manifest, and record a change of drift
/// state in the ledger (each distinct state once).
public struct VerifyRoot: Sendable {
    public let root: DeployRoot
    public let full: Bool

    public init(_ root: DeployRoot, full: Bool = false) {
        self.root = root
        self.full = full
    }

    public func run(in store: Store, progress: WorkProgress? = nil) throws -> VerifyOutcome {
        let outcome = try DriftScanner(store: store, root: root).scan(full: full, progress: progress)
        try RootState(store: store, root: root).recordDrift(outcome)
        return outcome
    }

    public func run(in store: Store, progress: WorkProgress? = nil) async throws -> VerifyOutcome {
        try await BlockingWork.run { try run(in: store, progress: progress) }
    }
}

/// Put a drifted root back to its manifest, keeping what was found as evidence.
public struct RepairRoot: Sendable {
    public let root: DeployRoot
    public let full: Bool
    public let lockTimeout: Double

    public init(_ root: DeployRoot, full: Bool = false, lockTimeout: Double = 60) {
        self.root = root
        self.full = full
        self.lockTimeout = lockTimeout
    }

    public func run(in store: Store) throws -> RepairOutcome {
        try Repairer(store: store, root: root).repair(full: full, lockTimeout: lockTimeout)
    }

    public func run(in store: Store) async throws -> RepairOutcome {
        try await BlockingWork.run { try run(in: store) }
    }
}
