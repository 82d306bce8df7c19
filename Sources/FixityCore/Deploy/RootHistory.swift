/// What a root has seen, and the decisions that follow from it — no file system involved, so
/// deploy and rollback choices are tested in memory.
public struct RootHistory: Sendable {
    public enum Health: String, Sendable, Codable {
        /// Switched to; health not yet known (or the process died before it was).
        case pending
        case knownGood = "known-good"
        case knownBad = "known-bad"
    }

    public struct Record: Sendable, Equatable {
        public let deployment: Digest
        /// Order of first deploy on this root: "older" means a smaller ordinal.
        public let ordinal: Int64
        public var health: Health
        public var materialized: Bool

        public init(deployment: Digest, ordinal: Int64, health: Health, materialized: Bool) {
            self.deployment = deployment
            self.ordinal = ordinal
            self.health = health
            self.materialized = materialized
        }
    }

    public var records: [Record]
    public var active: Digest?

    public init(records: [Record], active: Digest?) {
        self.records = records.sorted { $0.ordinal < $1.ordinal }
        self.active = active
    }

    public func record(_ deployment: Digest) -> Record? { records.first { $0.deployment == deployment } }

    /// The default rollback target: the newest known-good deployment older than the active one,
    /// so a second rollback goes one further back.
    public func rollbackTarget() -> Record? {
        guard let active, let current = record(active) else {
            return records.last { $0.health == .knownGood && $0.deployment != self.active }
        }
        return records.last { $0.health == .knownGood && $0.ordinal < current.ordinal }
    }

    /// Where to return after `failed` failed its health check: the deployment that was active
    /// before it if that was known-good, else the newest known-good one; nil when there is none.
    public func recoveryTarget(failed: Digest, previous: Digest?) -> Record? {
        if let previous, previous != failed, let record = record(previous), record.health == .knownGood {
            return record
        }
        return records.last { $0.health == .knownGood && $0.deployment != failed }
    }

    /// Materialized deployments to remove: everything but the active one and the newest `keep`
    /// known-good ones. Failed deployments never count against `keep`, so a run of failures
    /// cannot push a good deployment out.
    public func retentionVictims(keep: Int) -> [Digest] {
        let kept = Set(records.filter { $0.health == .knownGood }.suffix(max(keep, 0)).map(\.deployment))
        return records.filter { $0.materialized && $0.deployment != active && !kept.contains($0.deployment) }.map(
            \.deployment)
    }
}
