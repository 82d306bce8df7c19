import FixityAccess
import FixityCore
import FixityLedger
import FixityStore
import FixityTrust
import Foundation
import Hummingbird

/// Releases: the newest first, and one release whole — its files folder by folder, its
/// signatures with the policy's names for their keys, its provenance and test attestations,
/// the changes from the release before it, and (with `ledger:read`) where it ran.
/// Scope as `GET /v1/releases/{ref}`: `release:read`.
enum DashboardReleasePages {
    static let releasesShown = 200
    static let changesShown = 500
    static let entriesShown = 1000

    struct Releases {
        struct Row {
            let id: ShownDigest
            let app: String
            let tags: String
            let files: Int
            let size: String
            let sealed: Moment?
        }
        let chrome: Chrome
        let releases: [Row]
        let hasReleases: Bool
        let truncated: Bool
        let shown: Int
        let total: Int
        let rendered: String
    }

    static func add(to pages: RouterGroup<ServerContext>, dashboard: Dashboard) {
        pages.get("releases") { _, context in
            try context.require(.releaseRead)
            let chrome = try context.requireDashboard().chrome
            let now = dashboard.now
            let all = try await dashboard.plane.releases(app: nil).sorted { $0.sealedAt > $1.sealedAt }
            let rows = all.prefix(releasesShown).map {
                Releases.Row(
                    id: .release($0.release.description), app: $0.app, tags: $0.tags.joined(separator: ", "),
                    files: $0.files, size: ByteCount.text($0.bytes), sealed: Moment($0.sealedAt, now: now))
            }
            return dashboard.page(
                Releases(
                    chrome: chrome, releases: rows, hasReleases: !rows.isEmpty, truncated: all.count > rows.count,
                    shown: rows.count, total: all.count, rendered: now.wholeSecondsText),
                "releases")
        }

        pages.get("releases/{ref}") { request, context in
            try context.require(.releaseRead)
            let chrome = try context.requireDashboard().chrome
            let text = try ReleaseRoutes.pathParameter("ref", context)
            let ref = try ReleaseRoutes.parse("ref") { try Ref(parsing: text) }
            let summary = try await dashboard.plane.resolve(ref)
            let dir = try folder(request.uri.queryParameters["dir"].map(String.init))
            let mayReadLedger = APIKeyScope.ledgerRead.isGranted(by: try context.requireKey().grantedScopes)
            let page = try await DashboardReleasePage.build(
                summary, dir: dir, mayReadLedger: mayReadLedger, chrome: chrome, dashboard: dashboard)
            return dashboard.page(page, "release")
        }
    }

    /// The `dir` query: a folder path inside the release, as manifests spell paths.
    static func folder(_ text: String?) throws -> String {
        guard let text, !text.isEmpty else { return "" }
        if let problem = EntryPath.problem(with: text) {
            throw APIFailure.badInput("dir '\(text.prefix(80))': \(problem)")
        }
        return text
    }
}

/// The release page's content.
struct DashboardReleasePage {
    struct Signature {
        let kind: String
        let signer: String
        let key: ShownDigest
    }
    struct Test {
        let result: String
        let signer: String
        let predicate: String
    }
    struct Promotion {
        let env: String
        let at: Moment?
        let key: String
        let seq: Int64
    }
    struct Sighting {
        let host: String
        let env: String
        let first: Moment?
        let last: Moment?
        let reports: Int
    }
    struct Previous {
        let id: ShownDigest
        let sealed: Moment?
    }
    struct Change {
        let sign: String
        let kind: String
        let path: String
    }
    struct Crumb {
        let name: String
        let path: String
    }
    struct Entry {
        let name: String
        let path: String
        let type: String
        let folder: Bool
        let mode: String
        let size: String
        let digest: ShownDigest?
        let target: String?
    }

    let chrome: Chrome
    let id: ShownDigest
    let apps: String
    let tags: String?
    let files: Int
    let size: String
    let signatures: [Signature]
    let hasSignatures: Bool
    let provenance: [String]
    let tests: [Test]
    let placesProblem: String?
    let promotions: [Promotion]
    let hasPromotions: Bool
    let sightings: [Sighting]
    let hasSightings: Bool
    let previous: Previous?
    let changes: [Change]
    let changesTruncated: Bool
    let changesShown: Int
    let changesTotal: Int
    let dir: String?
    let crumbs: [Crumb]
    let entries: [Entry]
    let entriesTruncated: Bool
    let entriesShown: Int
    let entriesTotal: Int
    let rendered: String

    static func build(
        _ summary: ReleaseSummary, dir: String, mayReadLedger: Bool, chrome: Chrome, dashboard: Dashboard
    ) async throws -> DashboardReleasePage {
        let plane = dashboard.plane
        let now = dashboard.now
        let id = summary.release
        let manifest = try await plane.manifest(id)
        let names = try await keyNames(plane)
        var signatures: [Signature] = []
        var provenance: [String] = []
        var tests: [Test] = []
        for envelope in try await plane.envelopes(about: id) {
            guard let statement = try? InTotoStatement(payload: envelope.payloadBytes, source: "envelope") else {
                continue
            }
            let signers = envelope.signatures.map { names[$0.keyid] ?? "not in the policy" }
            let kind: String
            switch statement.predicateType {
            case InTotoStatement.PredicateType.release:
                kind = "release approval"
            case InTotoStatement.PredicateType.provenance:
                kind = "provenance"
                provenance.append(pretty(statement.predicate))
            case InTotoStatement.PredicateType.testResult:
                kind = "test result"
                tests.append(
                    Test(
                        result: statement.predicate["result"]?.string?.lowercased() ?? "unknown",
                        signer: signers.joined(separator: ", "), predicate: pretty(statement.predicate)))
            default:
                kind = statement.predicateType
            }
            signatures += zip(envelope.signatures, signers).map {
                Signature(kind: kind, signer: $1, key: ShownDigest($0.keyid))
            }
        }

        // Where it ran: the ledger's promotions of it and the hosts that reported it.
        var promotions: [Promotion] = []
        var sightings: [Sighting] = []
        var placesProblem: String?
        if mayReadLedger {
            do {
                promotions = try await plane.ledgerTimeline(
                    LedgerFilter(release: id.description, kind: LedgerAction.promote.rawValue), before: nil, limit: 200
                ).entries.map {
                    Promotion(
                        env: $0.details["env"] ?? "-", at: Moment($0.time, now: now), key: $0.details["key"] ?? "-",
                        seq: $0.seq)
                }
                sightings = try await plane.releaseSightings(id).map {
                    Sighting(
                        host: $0.host, env: $0.env, first: Moment($0.first, now: now), last: Moment($0.last, now: now),
                        reports: $0.reports)
                }
            } catch let failure as APIFailure {
                placesProblem = failure.message
            }
        } else {
            placesProblem = "Where it ran comes from the ledger: this key lacks ledger:read."
        }

        // The release before it, of its (first) app, by the time each was sealed here.
        var previous: Previous?
        var changes: [Change] = []
        if let app = summary.apps.first {
            let history = try await plane.releases(app: try AppName(parsing: app)).sorted { $0.sealedAt < $1.sealedAt }
            if let index = history.firstIndex(where: { $0.release == id }), index > 0 {
                let before = history[index - 1]
                previous = Previous(id: .release(before.release.description), sealed: Moment(before.sealedAt, now: now))
                let diff = ManifestDiff(from: try await plane.manifest(before.release), to: manifest)
                for kind in ChangeKind.allCases {
                    for path in diff.paths(kind) {
                        changes.append(Change(sign: symbol(kind), kind: kind.rawValue, path: path))
                    }
                }
            }
        }

        let (entries, total) = listing(manifest, dir: dir)
        return DashboardReleasePage(
            chrome: chrome, id: .release(id.description), apps: summary.apps.joined(separator: ", "),
            tags: summary.tags.isEmpty ? nil : summary.tags.joined(separator: ", "), files: summary.files,
            size: ByteCount.text(summary.bytes), signatures: signatures, hasSignatures: !signatures.isEmpty,
            provenance: provenance, tests: tests, placesProblem: placesProblem, promotions: promotions,
            hasPromotions: !promotions.isEmpty, sightings: sightings, hasSightings: !sightings.isEmpty,
            previous: previous, changes: Array(changes.prefix(DashboardReleasePages.changesShown)),
            changesTruncated: changes.count > DashboardReleasePages.changesShown,
            changesShown: min(changes.count, DashboardReleasePages.changesShown), changesTotal: changes.count,
            dir: dir.isEmpty ? nil : dir, crumbs: crumbs(dir), entries: entries,
            entriesTruncated: total > entries.count, entriesShown: entries.count, entriesTotal: total,
            rendered: now.wholeSecondsText)
    }

    static func symbol(_ kind: ChangeKind) -> String {
        switch kind {
        case .added: "+"
        case .removed: "−"
        case .modified, .modeChanged, .typeChanged: "~"
        }
    }

    /// The policy's names for its keys, by key id (hex), for naming signers.
    static func keyNames(_ plane: any ControlPlane) async throws -> [String: String] {
        guard let record = try await plane.currentPolicy() else { return [:] }
        let policy = try record.policy()
        return Dictionary(policy.keys.map { ($0.value.id.hex, $0.key) }, uniquingKeysWith: { first, _ in first })
    }

    static func pretty(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "(unprintable)"
    }

    /// What lies under one folder: its files and their bytes.
    final class FolderTotals {
        var files = 0
        var bytes: UInt64 = 0
    }

    /// The immediate children of `dir`, folders first: a folder's size is everything under it.
    static func listing(_ manifest: Manifest, dir: String) -> ([Entry], Int) {
        let prefix = dir.isEmpty ? "" : dir + "/"
        var folders: [String: FolderTotals] = [:]
        var children: [ManifestEntry] = []
        for entry in manifest.entries where entry.path.hasPrefix(prefix) && entry.path != dir {
            let rest = String(entry.path.dropFirst(prefix.count))
            guard let slash = rest.firstIndex(of: "/") else {
                children.append(entry)
                continue
            }
            let child = prefix + String(rest[rest.startIndex..<slash])
            let totals = folders[child] ?? FolderTotals()
            folders[child] = totals
            let file = fileFacts(entry)
            if file.isFile {
                totals.files += 1
                totals.bytes += file.size
            }
        }
        var listed: [Entry] = []
        listed.reserveCapacity(children.count)
        for entry in children {
            let name = String(entry.path.dropFirst(prefix.count))
            let isFolder = entry.typeName == "dir"
            let file = fileFacts(entry)
            var size = file.isFile ? ByteCount.text(Int64(file.size)) : ""
            if isFolder, let totals = folders[entry.path] {
                size = "\(totals.files) files, \(ByteCount.text(Int64(totals.bytes)))"
            }
            listed.append(
                Entry(
                    name: name, path: entry.path, type: entry.typeName, folder: isFolder, mode: entry.modeString,
                    size: size, digest: file.digest.map { ShownDigest($0.description) }, target: target(entry)))
        }
        let folderRows = listed.filter(\.folder).sorted { $0.name < $1.name }
        let otherRows = listed.filter { !$0.folder }.sorted { $0.name < $1.name }
        let sorted = folderRows + otherRows
        return (Array(sorted.prefix(DashboardReleasePages.entriesShown)), sorted.count)
    }

    struct FileFacts {
        let isFile: Bool
        let size: UInt64
        let digest: Digest?
    }

    /// A file's size and digest (kept out of line: the 6.3 optimizer's copy propagation crashed
    /// on this switch inlined into the loop above).
    @inline(never)
    static func fileFacts(_ entry: ManifestEntry) -> FileFacts {
        if case .file(let size, let digest) = entry.kind { return FileFacts(isFile: true, size: size, digest: digest) }
        return FileFacts(isFile: false, size: 0, digest: nil)
    }

    @inline(never)
    static func target(_ entry: ManifestEntry) -> String? {
        if case .symlink(let target) = entry.kind { return target }
        return nil
    }

    static func crumbs(_ dir: String) -> [Crumb] {
        var crumbs = [Crumb(name: "(root)", path: "")]
        var path = ""
        for part in dir.split(separator: "/") {
            path = path.isEmpty ? String(part) : path + "/" + part
            crumbs.append(Crumb(name: String(part), path: path))
        }
        return crumbs
    }
}
