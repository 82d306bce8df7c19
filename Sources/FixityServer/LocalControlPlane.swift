import FixityAccess
import FixityApp
import FixityCore
import FixityHost
import FixityLedger
import FixityStore
import Foundation
import Logging
import ServiceLifecycle

/// The embedded default: the data folder is an ordinary Fixity store, its SQLite database the
/// metadata — the same code the CLI runs.
struct LocalControlPlane: ControlPlane {
    let store: Store
    var blobStore: Store { store }
    var ledgerLog: any LedgerLog { store.ledger }
    var clock: any WallClock { store.clock }
    var fleet: any Fleet { LocalFleet(store: store) }

    func changeFeed(into cache: CatalogCache, logger: Logger) -> any Service {
        SQLiteChangeFeed(folder: store.path, cache: cache, logger: logger)
    }

    func ping() async throws {
        try await BlockingWork.run { [store] in _ = try store.ledger.size() }
    }

    func authenticate(_ presented: String) async throws -> APIKeyRecord {
        try await BlockingWork.run { [store] in try APIKeyStore(store: store).authenticate(presented) }
    }

    func noteKeyUses(_ uses: [KeyUse]) async throws {
        try await BlockingWork.run { [store] in try APIKeyStore(store: store).noteUses(uses) }
    }

    func recordRefusal(_ refusal: Refusal) async throws {
        try await BlockingWork.run { [store] in
            _ = try store.ledger.append(
                action: .apiRefused, subject: refusal.keyID,
                details: [
                    "method": refusal.method, "route": refusal.route, "status": String(refusal.status),
                    "reason": refusal.reason, "address": refusal.address,
                ], at: store.clock.now())
        }
    }

    func recordRequest(keyID: String, method: String, route: String, status: Int, address: String) async throws {
        try await BlockingWork.run { [store] in
            _ = try store.ledger.append(
                action: .apiRequest, subject: keyID,
                details: ["method": method, "route": route, "status": String(status), "address": address],
                at: store.clock.now())
        }
    }

    func missingBlobs(_ digests: [Digest]) async throws -> [Digest] {
        try await BlockingWork.run { [store] in digests.filter { !store.hasObject($0) } }
    }

    func recordBlobs(_ report: BlobIntake.Report, keyID: String) async throws {
        try await BlockingWork.run { [store] in
            _ = try store.ledger.append(
                action: .blobsReceive, subject: keyID,
                details: [
                    "stored": String(report.stored), "present": String(report.present), "bytes": String(report.bytes),
                ], at: store.clock.now())
        }
    }

    func admitRelease(_ id: ReleaseID, app: AppName, tags: [String], keyID: String) async throws -> AdmissionReport {
        try await BlockingWork.run { [store] in
            try store.admitRelease(
                id, app: app, tags: tags, validate: DeploySettings.validateForSeal, action: .receive,
                details: ["app": app.value, "key": keyID, "tags": tags.joined(separator: " ")])
        }
    }

    func tag(_ tag: TagName, release: ReleaseID) async throws -> Bool {
        try await BlockingWork.run { [store] in try store.tag(tag, release: release) }
    }

    func resolve(_ ref: Ref) async throws -> ReleaseSummary {
        try await BlockingWork.run { [store] in
            let id = try store.resolve(ref)
            let rows = try store.releases(app: nil).filter { $0.release == id }
            guard let first = rows.first else { throw StoreError(.notFound, "no release \(id) on this server") }
            return ReleaseSummary(
                release: id, apps: rows.map(\.app).sorted(), tags: rows.flatMap(\.tags).sorted(), files: first.files,
                bytes: first.bytes)
        }
    }

    func releases(app: AppName?) async throws -> [ReleaseRecord] {
        try await BlockingWork.run { [store] in try store.releases(app: app) }
    }

    func ledgerSize() async throws -> Int {
        try await BlockingWork.run { [store] in try store.ledger.size() }
    }

    func ledgerEntries(from: Int64, count: Int) async throws -> [LedgerEntry] {
        try await BlockingWork.run { [store] in
            let ledger = store.ledger
            let size = Int64(try ledger.size())
            guard from >= 0, from < size else { return [] }
            return try (from..<min(size, from + Int64(count))).compactMap { try ledger.entry(seq: $0) }
        }
    }

    func ledgerCheckpoint(signedBy key: SigningKey) async throws -> String {
        try await BlockingWork.run { [store] in try store.ledger.signCheckpoint(key: key, at: store.clock.now()) }
    }
}
