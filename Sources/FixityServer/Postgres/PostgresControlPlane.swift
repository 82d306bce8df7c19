import FixityAccess
import FixityApp
import FixityCore
import FixityHost
import FixityLedger
import FixityStore
import Foundation
import Logging
import ServiceLifecycle
import NIOCore
import PostgresNIO

/// The control plane for replicas: metadata and the ledger in PostgreSQL (one database all
/// replicas share), blobs content-addressed in the data folder (shared storage). Every change
/// and its ledger entry commit in one transaction, under the ledger's advisory lock, so
/// replicas never fork the tree nor race a check against a write (a tag, a policy, a key name).
/// Every call runs on the thread pool; the sessions block their threads, never an event loop.
struct PostgresControlPlane: ControlPlane {
    let pool: PostgresPool
    let probe: PostgresProbe
    let blobStore: Store
    let clock: any WallClock

    init(url: PostgresURL, dataFolder: String, clock: any WallClock = SystemClock()) throws {
        pool = try PostgresPool(url)
        probe = PostgresProbe(url)
        blobStore = try Store.open(at: dataFolder, clock: clock)
        try blobStore.markCatalogElsewhere(url.description)
        self.clock = clock
        // The ledger's tables and guard first (the catalog's triggers use its function).
        _ = try PostgresLedger(session: pool.sessions[0])
        try pool.transaction { query in
            try query.rows("SELECT pg_advisory_xact_lock(\(PostgresLedger.schemaLock))")
            for statement in PostgresCatalogSchema.statements { try query.run(statement) }
        }
    }

    var ledger: PostgresLedger { PostgresLedger(unchecked: pool.session) }
    var ledgerLog: any LedgerLog { ledger }
    var fleet: any Fleet { UnavailableFleet() }

    func changeFeed(into cache: CatalogCache, logger: Logger) -> any Service {
        PostgresChangeFeed(url: pool.url, cache: cache, logger: logger)
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await BlockingWork.run(body)
    }

    /// One write transaction, serialized with every ledger append of every replica.
    func write<T>(_ body: (PostgresSession.Query) throws -> T) throws -> T {
        try pool.transaction { query in
            try query.rows("SELECT pg_advisory_xact_lock(\(PostgresLedger.appendLock))")
            return try body(query)
        }
    }

    func record(
        _ query: PostgresSession.Query, _ action: LedgerAction, subject: String, details: [String: String]
    ) throws {
        _ = try PostgresLedger.append(query, action: action, subject: subject, details: details, at: clock.now())
    }

    // MARK: health and the gate's bookkeeping

    /// Bounded to a second, on its own connection and no thread (`PostgresProbe`).
    func ping() async throws {
        try await probe.ping(within: .seconds(1))
    }

    func recordRefusal(_ refusal: Refusal) async throws {
        try await run {
            try write { query in
                try record(
                    query, .apiRefused, subject: refusal.keyID,
                    details: [
                        "method": refusal.method, "route": refusal.route, "status": String(refusal.status),
                        "reason": refusal.reason, "address": refusal.address,
                    ])
            }
        }
    }

    func recordRequest(keyID: String, method: String, route: String, status: Int, address: String) async throws {
        try await run {
            try write { query in
                try record(
                    query, .apiRequest, subject: keyID,
                    details: ["method": method, "route": route, "status": String(status), "address": address])
            }
        }
    }

    func missingBlobs(_ digests: [Digest]) async throws -> [Digest] {
        try await run { digests.filter { !blobStore.hasObject($0) } }
    }

    func recordBlobs(_ report: BlobIntake.Report, keyID: String) async throws {
        try await run {
            try write { query in
                try record(
                    query, .blobsReceive, subject: keyID,
                    details: [
                        "stored": String(report.stored), "present": String(report.present),
                        "bytes": String(report.bytes),
                    ])
            }
        }
    }

    // MARK: releases and tags

    func admitRelease(_ id: ReleaseID, app: AppName, tags versions: [String], keyID: String) async throws
        -> AdmissionReport
    {
        try await run {
            var tags: [TagName] = []
            for version in versions {
                do { tags.append(try TagName(app: app, version: version)) } catch let error as RefError {
                    throw StoreError(.badInput, error.message)
                }
            }
            let lock = try blobStore.lock(.shared, purpose: "admit a release")
            defer { withExtendedLifetime(lock) {} }
            let manifest = try blobStore.checkedForAdmission(id, validate: DeploySettings.validateForSeal)
            return try write { query in
                let inserted = try query.rows(
                    """
                    INSERT INTO releases (id, app, sealed_at, files, bytes)
                    VALUES (\(id.description), \(app.value), \(Instant(clock.now()).description),
                            \(Int64(manifest.fileCount)), \(Int64(manifest.fileBytes)))
                    ON CONFLICT (id, app) DO NOTHING RETURNING id
                    """)
                let existed = inserted.isEmpty
                if !existed {
                    try record(
                        query, .seal, subject: id.description,
                        details: [
                            "app": app.value, "files": String(manifest.fileCount),
                            "bytes": String(manifest.fileBytes),
                        ])
                }
                var newTags: [String] = []
                for tag in tags where try insertTag(query, tag, release: id) { newTags.append(tag.description) }
                try record(
                    query, .receive, subject: id.description,
                    details: ["app": app.value, "key": keyID, "tags": versions.joined(separator: " ")])
                return AdmissionReport(
                    release: id, app: app.value, files: manifest.fileCount, bytes: manifest.fileBytes,
                    newTags: newTags, existed: existed)
            }
        }
    }

    func tag(_ tag: TagName, release: ReleaseID) async throws -> Bool {
        try await run {
            try write { query in
                let apps = try query.rows("SELECT app FROM releases WHERE id = \(release.description)").map {
                    try $0.decode(String.self)
                }
                guard !apps.isEmpty else { throw StoreError(.notFound, "no release \(release) on this server") }
                guard apps.contains(tag.app.value) else {
                    throw StoreError(
                        .badInput,
                        "release \(release.short) was sealed as \(apps.sorted().joined(separator: ", ")), not \(tag.app.value): a tag names a release of its own app"
                    )
                }
                return try insertTag(query, tag, release: release)
            }
        }
    }

    /// True when new; false when it already named `release`; a conflict when it names another.
    private func insertTag(_ query: PostgresSession.Query, _ tag: TagName, release: ReleaseID) throws -> Bool {
        if let existing = try query.rows(
            "SELECT release FROM tags WHERE app = \(tag.app.value) AND version = \(tag.version)"
        ).first?.decode(String.self) {
            guard existing == release.description else {
                throw StoreError(
                    .conflict,
                    "tag \(tag) already names \(existing); tags are immutable, so \(release.short) was not tagged and nothing was recorded"
                )
            }
            return false
        }
        try query.rows(
            """
            INSERT INTO tags (app, version, release, created_at)
            VALUES (\(tag.app.value), \(tag.version), \(release.description), \(Instant(clock.now()).description))
            """)
        try record(query, .tag, subject: release.description, details: ["tag": tag.description])
        return true
    }

    func resolve(_ ref: Ref) async throws -> ReleaseSummary {
        try await run {
            try pool.read { query in
                let id: String
                switch ref {
                case .id(let release): id = release.description
                case .prefix(let hex):
                    let matches = try query.rows(
                        "SELECT DISTINCT id FROM releases WHERE id LIKE \("sha256:\(hex)%") ORDER BY id LIMIT 6"
                    ).map { try $0.decode(String.self) }
                    guard let first = matches.first else {
                        throw StoreError(.notFound, "no release matches prefix '\(hex)'")
                    }
                    guard matches.count == 1 else {
                        throw StoreError(
                            .ambiguous, "prefix '\(hex)' is ambiguous: it matches \(matches.count) releases")
                    }
                    id = first
                case .tag(let tag):
                    guard
                        let release = try query.rows(
                            "SELECT release FROM tags WHERE app = \(tag.app.value) AND version = \(tag.version)"
                        ).first?.decode(String.self)
                    else { throw StoreError(.notFound, "no tag \(tag)") }
                    id = release
                }
                let rows = try query.rows("SELECT app, files, bytes FROM releases WHERE id = \(id) ORDER BY app")
                guard let first = rows.first, let digest = Digest(parsing: id) else {
                    throw StoreError(.notFound, "no release \(id) on this server")
                }
                let (_, files, bytes) = try first.decode((String, Int64, Int64).self)
                let apps = try rows.map { try $0.decode((String, Int64, Int64).self).0 }
                let tags = try query.rows(
                    "SELECT app || '@' || version FROM tags WHERE release = \(id) ORDER BY 1"
                ).map { try $0.decode(String.self) }
                return ReleaseSummary(
                    release: ReleaseID(digest), apps: apps, tags: tags, files: Int(files), bytes: bytes)
            }
        }
    }

    func releases(app: AppName?) async throws -> [ReleaseRecord] {
        try await run {
            try pool.read { query in
                let rows = try query.rows(
                    """
                    SELECT r.id, r.app, r.sealed_at, r.files, r.bytes,
                        COALESCE((SELECT string_agg(t.app || '@' || t.version, ' ' ORDER BY t.version) FROM tags t
                                  WHERE t.release = r.id AND t.app = r.app), '')
                    FROM releases r WHERE \(app?.value ?? "") = '' OR r.app = \(app?.value ?? "")
                    ORDER BY r.app, r.sealed_at, r.id
                    """)
                return try rows.compactMap { row in
                    let (id, app, sealedAt, files, bytes, tags) = try row.decode(
                        (String, String, String, Int64, Int64, String).self)
                    guard let digest = Digest(parsing: id) else { return nil }
                    return ReleaseRecord(
                        release: ReleaseID(digest), app: app, sealedAt: sealedAt, files: Int(files), bytes: bytes,
                        tags: tags.split(separator: " ").map(String.init).sorted())
                }
            }
        }
    }

    // MARK: the ledger

    func ledgerSize() async throws -> Int { try await run { try ledger.size() } }

    func ledgerEntries(from: Int64, count: Int) async throws -> [LedgerEntry] {
        try await run {
            try pool.read { query in
                try query.rows(
                    """
                    SELECT seq, time, actor, host, action, subject, details FROM ledger_entries
                    WHERE seq >= \(from) ORDER BY seq LIMIT \(Int64(count))
                    """
                ).map(PostgresLedger.entry(from:))
            }
        }
    }

    func ledgerCheckpoint(signedBy key: SigningKey) async throws -> String {
        try await run { try ledger.signCheckpoint(key: key, at: clock.now()) }
    }
}
