import FixityApp
import FixityCore
import FixityHost
import FixityStore
import Foundation

/// What `fixity push` did.
package struct PushReport: Sendable, Encodable {
    package let release: ReleaseID
    package let apps: [String]
    package let tags: [String]
    /// Blobs the release needs in all (its files and its manifest), and how many travelled.
    package let blobsTotal: Int
    package let blobsSent: Int
    package let bytesSent: UInt64
    /// Signatures, attestations and provenance sent (the server verifies each on arrival).
    package let envelopes: Int

    enum CodingKeys: String, CodingKey {
        case release, apps, tags, blobsTotal = "blobs_total", blobsSent = "blobs_sent", bytesSent = "bytes_sent"
        case envelopes
    }
}

/// What `fixity pull` did.
package struct PullReport: Sendable, Encodable {
    package let release: ReleaseID
    package let apps: [String]
    package let tags: [String]
    package let blobsTotal: Int
    package let blobsReceived: Int
    package let bytesReceived: UInt64
    package let envelopes: Int

    enum CodingKeys: String, CodingKey {
        case release, apps, tags, blobsTotal = "blobs_total", blobsReceived = "blobs_received"
        case bytesReceived = "bytes_received", envelopes
    }
}

/// A release moved between a local store and a server: only the blobs the other side lacks
/// travel, in packs, and the release is recorded on the far side only after its manifest and
/// every blob are there and it validates as `seal` would.
package enum ReleaseTransfer {
    /// Digests asked about in one missing-blobs request (the server takes up to 100,000).
    static let digestsPerQuery = 50_000
    /// A push goes up in packs of about this many bytes: a dropped connection costs one pack.
    static let packBytes: UInt64 = 256 << 20
    /// Packs in flight at once. Each is read and hashed on one thread of the sender and hashed
    /// and written on one of the receiver, so two keep both cores of each end busy.
    static let lanes = 2
    /// Below this much, one pack: splitting would cost more requests than it saves.
    static let splitBytes: UInt64 = 16 << 20

    package static func push(_ ref: Ref, from store: Store, to client: ServerClient) async throws -> PushReport {
        let (id, manifest, records, envelopes) = try await BlockingWork.run {
            let id = try store.resolve(ref)
            return (
                id, try store.manifest(id), try store.releases(app: nil).filter { $0.release == id },
                try store.envelopes(about: id).map(\.envelope)
            )
        }
        var sizes = blobSizes(manifest)
        sizes[id.digest] = UInt64(manifest.bytes.count)
        let missing = try await missingOnServer(sizes.keys.sorted(), client)
        var sent = 0
        var bytes: UInt64 = 0
        for receipt in try await inLanes(
            packs(missing, sizes: sizes),
            { pack in
                try await client.uploadPack(BlobPackSource(store: store, digests: pack))
            })
        {
            sent += receipt.stored + receipt.present
            bytes += receipt.bytes
        }
        var tags: [String] = []
        for record in records.sorted(by: { $0.app < $1.app }) {
            let versions = record.tags.compactMap { tag -> String? in
                guard let parsed = try? TagName(parsing: tag), parsed.app.value == record.app else { return nil }
                return parsed.version
            }
            let registration = Registration(release: id.description, app: record.app, tags: versions)
            let _: AdmissionReport.Decoded = try await client.document(.POST, "/v1/releases", body: registration)
            tags += record.tags
        }
        // After the release: an envelope is about a release the server must already have.
        for envelope in envelopes {
            struct Added: Decodable { let added: Bool }
            let _: Added = try await client.upload(
                .POST, "/v1/releases/\(id.description)/envelopes", bytes: envelope.jsonBytes())
        }
        return PushReport(
            release: id, apps: records.map(\.app).sorted(), tags: tags.sorted(), blobsTotal: sizes.count,
            blobsSent: sent, bytesSent: bytes, envelopes: envelopes.count)
    }

    package static func pull(_ ref: Ref, into store: Store, from client: ServerClient) async throws -> PullReport {
        let path =
            "/v1/releases/" + (ref.description.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "")
        let summary: ReleaseSummary = try await client.document(.GET, path)
        if case .id(let asked) = ref, asked != summary.release {
            throw ServerClientError(
                category: .integrity, message: "the server answered release \(summary.release) for \(asked)",
                status: nil)
        }
        var received = 0
        var bytes: UInt64 = 0
        // The manifest first: its digest is the release id, so the pack's own check proves it.
        if !store.hasObject(summary.release.digest) {
            let report = try await fetch([summary.release.digest], into: store, client)
            received += report.stored
            bytes += report.bytes
        }
        let manifest = try await BlockingWork.run {
            do {
                return try UnverifiedManifest(bytes: try store.readObject(summary.release.digest)).verified()
            } catch let error as ManifestError {
                throw StoreError(
                    .badInput,
                    "release \(summary.release.short) from the server: its manifest is invalid: \(error.message)")
            }
        }
        let needed = manifest.blobDigests.sorted()
        let missing = try await BlockingWork.run { needed.filter { !store.hasObject($0) } }
        let sizes = blobSizes(manifest)
        for report in try await inLanes(packs(missing, sizes: sizes), { try await fetch($0, into: store, client) }) {
            received += report.stored
            bytes += report.bytes
        }
        var versions: [String: [String]] = [:]
        for tag in summary.tags {
            let parsed = try TagName(parsing: tag)
            versions[parsed.app.value, default: []].append(parsed.version)
        }
        let tagsByApp = versions
        let apps = summary.apps
        try await BlockingWork.run {
            for app in apps {
                _ = try store.admitRelease(
                    summary.release, app: try AppName(parsing: app), tags: tagsByApp[app] ?? [],
                    validate: DeploySettings.validateForSeal, action: .pull,
                    details: ["app": app, "server": client.base])
            }
        }
        let list: EnvelopeList = try await client.document(
            .GET, "/v1/releases/\(summary.release.description)/envelopes")
        try await BlockingWork.run {
            for envelope in list.envelopes {
                _ = try store.addEnvelope(envelope, about: summary.release, source: "\(client.base)")
            }
        }
        return PullReport(
            release: summary.release, apps: apps, tags: summary.tags, blobsTotal: needed.count + 1,
            blobsReceived: received, bytesReceived: bytes, envelopes: list.envelopes.count)
    }

    // MARK: pieces

    typealias EnvelopeList = ReleaseRoutes.EnvelopeList

    struct Registration: Codable, Sendable {
        let release: String
        let app: String
        let tags: [String]
    }

    static func missingOnServer(_ digests: [Digest], _ client: ServerClient) async throws -> [Digest] {
        var missing: [Digest] = []
        var start = 0
        while start < digests.count {
            let slice = digests[start..<min(digests.count, start + digestsPerQuery)]
            struct List: Codable, Sendable { let digests: [String] }
            let answer: List = try await client.document(
                .POST, "/v1/blobs/missing", body: List(digests: slice.map(\.description)))
            let asked = Set(slice)
            for text in answer.digests {
                guard let digest = Digest(parsing: text), asked.contains(digest) else {
                    throw ServerClientError(
                        category: .badInput,
                        message: "the server named a blob it was not asked about: \(text.prefix(80))",
                        status: nil)
                }
                missing.append(digest)
            }
            start += digestsPerQuery
        }
        return missing
    }

    /// Each blob's size, by digest. (A plain loop: Swift 6.3's optimizer crashes on the
    /// compactMap-into-Dictionary form of this in a release build.)
    static func blobSizes(_ manifest: Manifest) -> [Digest: UInt64] {
        var sizes: [Digest: UInt64] = [:]
        for entry in manifest.entries {
            if let digest = entry.digest { sizes[digest] = entry.size }
        }
        return sizes
    }

    /// Digests grouped into packs of about `packBytes` — and into at least `lanes` packs when
    /// there is enough to share between them.
    static func packs(_ digests: [Digest], sizes: [Digest: UInt64]) -> [[Digest]] {
        let total = digests.reduce(UInt64(0)) { $0 + (sizes[$1] ?? 0) }
        let target = total < splitBytes ? packBytes : min(packBytes, total / UInt64(lanes) + 1)
        var packs: [[Digest]] = []
        var current: [Digest] = []
        var bytes: UInt64 = 0
        for digest in digests {
            current.append(digest)
            bytes += sizes[digest] ?? 0
            if bytes >= target || current.count >= digestsPerQuery {
                packs.append(current)
                current = []
                bytes = 0
            }
        }
        if !current.isEmpty { packs.append(current) }
        return packs
    }

    /// `body` over every pack, `lanes` at a time; the results in the packs' order. The first
    /// failure cancels the rest (what they stored stays stored: objects are content-addressed,
    /// so a retry skips them).
    static func inLanes<Result: Sendable>(
        _ packs: [[Digest]], _ body: @escaping @Sendable ([Digest]) async throws -> Result
    ) async throws -> [Result] {
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            var results: [Result?] = Array(repeating: nil, count: packs.count)
            var next = 0
            func start() {
                guard next < packs.count else { return }
                let index = next
                next += 1
                group.addTask { (index, try await body(packs[index])) }
            }
            for _ in 0..<lanes { start() }
            while let (index, result) = try await group.next() {
                results[index] = result
                start()
            }
            return results.compactMap { $0 }
        }
    }

    static func fetch(_ digests: [Digest], into store: Store, _ client: ServerClient) async throws -> BlobIntake.Report
    {
        let intake = try await BlockingWork.run { try BlobIntake(store: store) }
        do {
            try await client.fetchPack(digests, into: intake)
            let report = try await BlockingWork.run { try intake.commit() }
            guard report.stored + report.present == digests.count else {
                throw ServerClientError(
                    category: .badInput,
                    message: "the server sent \(report.stored + report.present) blobs for \(digests.count) asked",
                    status: nil)
            }
            return report
        } catch {
            try? await BlockingWork.run { intake.abandon() }
            throw error
        }
    }
}

extension AdmissionReport {
    /// The server's answer to a registration, as a client reads it.
    package struct Decoded: Decodable, Sendable {
        package let release: String
        package let app: String
        package let existed: Bool
        package let newTags: [String]

        enum CodingKeys: String, CodingKey { case release, app, existed, newTags = "new_tags" }
    }
}
