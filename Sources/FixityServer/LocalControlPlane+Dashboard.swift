import FixityApp
import FixityCore
import FixityLedger
import FixityStore
import FixityTrust
import GRDB

/// What only the dashboard reads: environment names, the filtered timeline, where a release ran.
extension LocalControlPlane {
    func environmentNames() async throws -> [String] {
        try await BlockingWork.run { [store] in
            try store.ensureSchema(ControlPlaneSchema.part)
            let (promoted, signed) = try store.database.storeRead { db in
                (
                    try String.fetchAll(db, sql: "SELECT DISTINCT env FROM desired_states"),
                    try Self.signedPolicy(db, store: store)
                )
            }
            var names = Set(promoted)
            if let signed {
                names.formUnion(try signed.policy().environments.keys)
            }
            return names.sorted()
        }
    }

    func ledgerTimeline(_ filter: LedgerFilter, before: Int64?, limit: Int) async throws -> LedgerTimeline.Page {
        try await BlockingWork.run { [store] in try store.sqliteLedger.timeline(filter, before: before, limit: limit) }
    }

    func releaseSightings(_ release: ReleaseID) async throws -> [ReleaseSighting] {
        try await BlockingWork.run { [store] in
            try store.sqliteLedger.sightings(release: release.description, window: DashboardLimits.sightingWindow)
        }
    }
}

/// Bounds on what one dashboard page reads.
enum DashboardLimits {
    /// Ledger entries about a release searched for the hosts that ran it.
    static let sightingWindow = 5_000
}
