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

    /// Up to `limit` entries matching `filter` with seq below `before` (nil: from the newest),
    /// newest first.
    ///
    /// A facet that two columns can match (host, release) is asked as two queries, each walking
    /// its own index backwards and stopping at `limit`, merged here: one `OR` would make SQLite
    /// gather every match and sort them.
    package static func page(_ db: Database, filter: LedgerFilter, before: Int64?, limit: Int) throws
        -> [LedgerEntry]
    {
        var alternatives: [(String, [String])] = [("1", [])]
        var rest: [(String, [String])] = []
        if let kind = filter.kind { rest.append(("action = ?", [kind])) }
        if let env = filter.env { rest.append(("json_extract(details, '$.env') = ?", [env])) }
        // The facet most likely to be rare drives the query; the others narrow what it finds.
        if let host = filter.host {
            alternatives = [("subject = ?", [host]), ("json_extract(details, '$.host') = ?", [host])]
        } else if let release = filter.release {
            alternatives = [("subject = ?", [release]), ("json_extract(details, '$.release') = ?", [release])]
        }
        if filter.host != nil, let release = filter.release {
            rest.append(("(subject = ? OR json_extract(details, '$.release') = ?)", [release, release]))
        }
        var found: [Int64: LedgerEntry] = [:]
        for (condition, values) in alternatives {
            var sql = "SELECT \(History.entryColumns) FROM history WHERE \(condition)"
            var arguments = StatementArguments(values)
            for (clause, values) in rest {
                sql += " AND \(clause)"
                arguments += StatementArguments(values)
            }
            if let before {
                sql += " AND seq < ?"
                arguments += [before]
            }
            sql += " ORDER BY seq DESC LIMIT ?"
            arguments += [limit]
            for row in try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments) {
                let entry = History.entry(byPosition: row)
                found[entry.seq] = entry
            }
        }
        return found.values.sorted { $0.seq > $1.seq }.prefix(limit).map { $0 }
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
    package func timeline(_ filter: LedgerFilter, before: Int64?, limit: Int) throws -> [LedgerEntry] {
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
