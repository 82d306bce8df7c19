import FixityCore
import FixityLedger
import PostgresNIO

/// The dashboard's reads on PostgreSQL: environment names and the unfiltered timeline. The
/// filtered timeline and the hosts a release ran on need the facet indexes the embedded ledger
/// has, and the fleet (which PostgreSQL does not keep yet): both answer 501, never half.
extension PostgresControlPlane {
    func environmentNames() async throws -> [String] {
        try await run {
            try pool.read { query in
                var names = Set(
                    try query.rows("SELECT DISTINCT env FROM desired_states").map { try $0.decode(String.self) })
                if let (_, policy) = try currentPolicy(query) { names.formUnion(policy.environments.keys) }
                return names.sorted()
            }
        }
    }

    func ledgerTimeline(_ filter: LedgerFilter, before: Int64?, limit: Int) async throws -> LedgerTimeline.Page {
        guard filter.isEmpty else { throw Self.dashboardUnavailable("filtering the ledger") }
        let below = before ?? Int64.max
        let entries = try await run {
            try pool.read { query in
                try query.rows(
                    """
                    SELECT seq, time, actor, host, action, subject, details FROM ledger_entries
                    WHERE seq < \(below) ORDER BY seq DESC LIMIT \(Int64(limit))
                    """
                ).map(PostgresLedger.entry(from:))
            }
        }
        return LedgerTimeline.Page(entries: entries, searchedDownTo: nil)
    }

    func releaseSightings(_ release: ReleaseID) async throws -> [ReleaseSighting] {
        throw Self.dashboardUnavailable("the hosts a release ran on")
    }

    static func dashboardUnavailable(_ what: String) -> APIFailure {
        APIFailure(
            .notImplemented, .refused,
            "\(what) is answered by the embedded control plane only so far; this server runs on PostgreSQL (docs/dashboard.md, \"Not yet\")"
        )
    }
}
