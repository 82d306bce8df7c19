import FixityCore
import GRDB

/// What the dashboard's timeline narrows the ledger to: any of an environment, a fleet host, a
/// release and an action ("kind"), all of them at once.
package struct LedgerFilter: Sendable, Equatable {
    package var env: String?
    package var host: String?
    package var release: String?
    package var kind: String?

    package init(env: String? = nil, host: String? = nil, release: String? = nil, kind: String? = nil) {
        self.env = env
        self.host = host
        self.release = release
        self.kind = kind
    }

    package var isEmpty: Bool { env == nil && host == nil && release == nil && kind == nil }
}

/// The ledger newest first, a page at a time, through indexes on the facets people filter by,
/// so a page of a million-entry ledger is a few index descents rather than a scan.
///
/// Which entries a facet matches: `kind` is the action; `env` the `env` detail; `host` the
/// subject (host reports, enrolments) or the `host` detail; `release` the subject (seal,
/// promote, receive) or the `release` detail (host reports, rollouts).
package enum LedgerTimeline {
    /// Indexes over `history` for the timeline (an entry is never updated, so each costs one
    /// b-tree insert per append).
    static func registerFacets(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("history-v3-facets") { db in
            try db.execute(
                sql: """
                    CREATE INDEX history_action_seq ON history (action, seq);
                    CREATE INDEX history_subject_seq ON history (subject, seq);
                    CREATE INDEX history_env_seq ON history (json_extract(details, '$.env'), seq);
                    CREATE INDEX history_host_seq ON history (json_extract(details, '$.host'), seq);
                    CREATE INDEX history_release_seq ON history (json_extract(details, '$.release'), seq);
                    """)
        }
    }

    /// At most this many index descents for one page: a filter whose facets almost never meet
    /// stops here and says how far back it searched, instead of walking the whole ledger.
    package static let seekBudget = 4_000

    /// A page of the timeline: the entries, and — when the search stopped at the budget before
    /// filling the page — the seq it searched down to (older entries are not yet looked at).
    package struct Page: Sendable {
        package let entries: [LedgerEntry]
        package let searchedDownTo: Int64?

        package init(entries: [LedgerEntry], searchedDownTo: Int64?) {
            self.entries = entries
            self.searchedDownTo = searchedDownTo
        }
    }

    /// A facet as a sorted posting list: the entries matching any of its conditions, each
    /// condition served by its own `(…, seq)` index.
    struct Facet {
        let conditions: [String]
        let value: String
    }

    static func facets(_ filter: LedgerFilter) -> [Facet] {
        var facets: [Facet] = []
        if let host = filter.host {
            facets.append(Facet(conditions: ["subject = ?", "json_extract(details, '$.host') = ?"], value: host))
        }
        if let release = filter.release {
            facets.append(Facet(conditions: ["subject = ?", "json_extract(details, '$.release') = ?"], value: release))
        }
        if let kind = filter.kind { facets.append(Facet(conditions: ["action = ?"], value: kind)) }
        if let env = filter.env { facets.append(Facet(conditions: ["json_extract(details, '$.env') = ?"], value: env)) }
        return facets
    }

    /// Up to `limit` entries matching `filter` with seq below `before` (nil: from the newest),
    /// newest first.
    ///
    /// Several facets are intersected by leapfrogging down their indexes — the newest entry at
    /// or below a bound in one facet becomes the bound for the next, until all agree — so the
    /// cost follows how often the facets meet, not how many entries each has: "promotions of
    /// this release" costs a few descents per promotion even when the release has a million
    /// host reports.
    package static func page(_ db: Database, filter: LedgerFilter, before: Int64?, limit: Int) throws -> Page {
        let facets = facets(filter)
        guard !facets.isEmpty else {
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT \(History.entryColumns) FROM history WHERE seq < ? ORDER BY seq DESC LIMIT ?"),
                arguments: [before ?? Int64.max, limit])
            return Page(entries: rows.map(History.entry(byPosition:)), searchedDownTo: nil)
        }
        var seeks = 0
        // The newest seq at or below `bound` in `facet`, nil when it has none.
        func seek(_ facet: Facet, atMost bound: Int64) throws -> Int64? {
            var best: Int64?
            for condition in facet.conditions {
                seeks += 1
                let found = try Int64.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT seq FROM history WHERE \(condition) AND seq <= ? ORDER BY seq DESC LIMIT 1"),
                    arguments: [facet.value, bound])
                if let found, found > (best ?? -1) { best = found }
            }
            return best
        }
        var matches: [Int64] = []
        var bound = (before ?? Int64.max) - 1
        search: while matches.count < limit, bound >= 0 {
            guard seeks < seekBudget else {
                return Page(entries: try entries(db, matches), searchedDownTo: bound + 1)
            }
            guard var candidate = try seek(facets[0], atMost: bound) else { break }
            var agreed = 1
            var index = 1
            while agreed < facets.count {
                guard let found = try seek(facets[index % facets.count], atMost: candidate) else { break search }
                if found == candidate {
                    agreed += 1
                } else {
                    candidate = found
                    agreed = 1
                }
                index += 1
                if seeks >= seekBudget {
                    return Page(entries: try entries(db, matches), searchedDownTo: candidate + 1)
                }
            }
            matches.append(candidate)
            bound = candidate - 1
        }
        return Page(entries: try entries(db, matches), searchedDownTo: nil)
    }

    /// The entries with these seqs, in the order given.
    static func entries(_ db: Database, _ seqs: [Int64]) throws -> [LedgerEntry] {
        guard !seqs.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: seqs.count).joined(separator: ", ")
        let rows = try Row.fetchAll(
            db, sql: "SELECT \(History.entryColumns) FROM history WHERE seq IN (\(marks)) ORDER BY seq DESC",
            arguments: StatementArguments(seqs))
        return rows.map(History.entry(byPosition:))
    }
}

/// Where a release ran, as the hosts reported it: each host's first and last report naming it.
package struct ReleaseSighting: Sendable, Equatable {
    package let host: String
    package let env: String
    package let first: String
    package let last: String
    package let reports: Int
}

extension LedgerTimeline {
    /// The hosts whose reports name `release`, from its newest `window` entries (a bound, so a
    /// release reported a million times still answers in one index walk of that length).
    package static func sightings(_ db: Database, release: String, window: Int) throws -> [ReleaseSighting] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT subject, env, MIN(time), MAX(time), COUNT(*) FROM (
                        SELECT subject, json_extract(details, '$.env') AS env, time, action FROM history
                        WHERE json_extract(details, '$.release') = ? ORDER BY seq DESC LIMIT ?
                    ) WHERE action = 'host-report' GROUP BY subject ORDER BY subject
                    """), arguments: [release, window]
        ).map { row in
            ReleaseSighting(host: row[0], env: row[1] ?? "-", first: row[2], last: row[3], reports: row[4])
        }
    }
}

extension SQLiteLedger {
    /// `LedgerTimeline.page` on this ledger.
    package func timeline(_ filter: LedgerFilter, before: Int64?, limit: Int) throws -> LedgerTimeline.Page {
        do {
            return try database.read { try LedgerTimeline.page($0, filter: filter, before: before, limit: limit) }
        } catch let error as DatabaseError { throw DatabaseFailure(error, path: database.path) }
    }

    /// `LedgerTimeline.sightings` on this ledger.
    package func sightings(release: String, window: Int) throws -> [ReleaseSighting] {
        do {
            return try database.read { try LedgerTimeline.sightings($0, release: release, window: window) }
        } catch let error as DatabaseError { throw DatabaseFailure(error, path: database.path) }
    }
}
