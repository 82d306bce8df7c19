import FixityAccess
import FixityApp
import FixityCore
import FixityHost
import FixityLedger
import FixityStore
import Foundation
import Logging
import ServiceLifecycle

/// A release as the API describes it: its id, the app(s) it was recorded under, its tags.
package struct ReleaseSummary: Sendable, Codable, Equatable {
    package let release: ReleaseID
    package let apps: [String]
    package let tags: [String]
    package let files: Int
    package let bytes: Int64
}

/// A refused request, as the ledger records it: which key (if any), what it asked, why not.
struct Refusal: Sendable {
    let keyID: String
    let method: String
    let route: String
    let status: Int
    let reason: String
    let address: String
}

/// What the server keeps, behind one protocol so a second implementation (PostgreSQL for
/// replicas) can stand beside the embedded one. Every method is async and does its blocking
/// work (SQLite, files) on the thread pool, never on an event loop. Blobs are content-addressed
/// files in the data folder in every implementation (`blobStore`).
protocol ControlPlane: Sendable {
    /// Where blobs live: an ordinary store's objects.
    var blobStore: Store { get }
    /// The time every expiry and entry is judged by.
    var clock: any WallClock { get }
    /// The service that tells `cache` when keys or desired states change outside this server's
    /// own requests (another process, another replica).
    func changeFeed(into cache: CatalogCache, logger: Logger) -> any Service
    /// Throws when the metadata database does not answer.
    func ping() async throws
    /// The key a request presented, if it authenticates now (a read: uses are noted in batches).
    func authenticate(_ presented: String) async throws -> APIKeyRecord
    /// Records keys' last uses (time and address), a batch at a time.
    func noteKeyUses(_ uses: [KeyUse]) async throws
    /// Key administration for `admin` keys (the same operations as `fixity server key`).
    func createKey(name: String, owner: String, scopes: [APIKeyScope], lifetime: Int) async throws -> ShownKey
    func listKeys() async throws -> [APIKeyRecord]
    func revokeKey(_ nameOrID: String) async throws -> APIKeyRecord
    func rotateKey(_ nameOrID: String, overlap: Int, lifetime: Int) async throws -> (ShownKey, old: APIKeyRecord)
    func recordRefusal(_ refusal: Refusal) async throws
    /// A mutating request's outcome, for the ledger.
    func recordRequest(keyID: String, method: String, route: String, status: Int, address: String) async throws
    func missingBlobs(_ digests: [Digest]) async throws -> [Digest]
    func recordBlobs(_ report: BlobIntake.Report, keyID: String) async throws
    func admitRelease(_ id: ReleaseID, app: AppName, tags: [String], keyID: String) async throws -> AdmissionReport
    func tag(_ tag: TagName, release: ReleaseID) async throws -> Bool
    func resolve(_ ref: Ref) async throws -> ReleaseSummary
    func releases(app: AppName?) async throws -> [ReleaseRecord]
    func ledgerSize() async throws -> Int
    func ledgerEntries(from: Int64, count: Int) async throws -> [LedgerEntry]
    /// The ledger as a `LedgerLog` (synchronous: call it on the thread pool), for proofs.
    var ledgerLog: any LedgerLog { get }
    /// A signed note of the ledger's current size and root (tlog checkpoint), signed by `key`.
    func ledgerCheckpoint(signedBy key: SigningKey) async throws -> String
    /// Accepts a signed policy (an envelope's JSON) if the root in force and its own root signed it.
    func setPolicy(envelope: [UInt8], keyID: String) async throws -> PolicyRecord
    func currentPolicy() async throws -> PolicyRecord?
    /// Sets `env`'s desired state to `ref` if the policy in force allows it, else throws
    /// `PromotionRefused` naming why; both outcomes are ledger entries. With `rollout`, the
    /// hosts move in its waves (`Fleet`).
    func promote(_ ref: Ref, env: String, keyID: String, rollout: RolloutPlan?) async throws -> DesiredState
    /// Hosts, their reports and rollouts.
    var fleet: any Fleet { get }
    func desiredState(env: String) async throws -> DesiredState?
    /// Stores a DSSE envelope about `release` once it verifies (docs/server.md, "Signatures").
    func addEnvelope(_ bytes: [UInt8], about release: ReleaseID, keyID: String) async throws -> Bool
    func envelopes(about release: ReleaseID) async throws -> [DSSEEnvelope]
    func environment(_ env: String) async throws -> EnvironmentView
    /// Every environment the policy in force defines or a promotion named, sorted.
    func environmentNames() async throws -> [String]
    /// The dashboard's timeline: up to `limit` entries matching `filter` below `before`, newest
    /// first (docs/dashboard.md, "The ledger").
    func ledgerTimeline(_ filter: LedgerFilter, before: Int64?, limit: Int) async throws -> LedgerTimeline.Page
    /// The hosts whose reports name `release` (from its newest entries in the ledger).
    func releaseSightings(_ release: ReleaseID) async throws -> [ReleaseSighting]
}

extension ControlPlane {
    /// The verified manifest of a release held here.
    func manifest(_ release: ReleaseID) async throws -> Manifest {
        try await BlockingWork.run { [blobStore] in try blobStore.manifest(release) }
    }
}
