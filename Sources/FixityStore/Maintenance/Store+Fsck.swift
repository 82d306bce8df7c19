import FixityCore
import Glibc
import Synchronization

/// What `fsck` found. Empty lists mean the store is consistent.
package struct FsckReport: Sendable, Encodable {
    package var objects = 0
    package var bytes = 0
    package var releases = 0
    /// Objects whose bytes do not hash to their name.
    package var corrupt: [String] = []
    /// Objects a release references that are not in the store.
    package var missing: [String] = []
    /// Releases whose manifest object is absent, corrupt or invalid.
    package var invalidReleases: [String] = []
    /// Files under objects/ that are not named like an object.
    package var strays: [String] = []
    /// Hardlink sources re-hashed (and stamped anew), and those removed for holding wrong bytes
    /// (a write through a deployment's link; the next hardlink deploy makes them again).
    package var linkSourcesChecked = 0
    package var linkSourcesRemoved: [String] = []

    package var clean: Bool { corrupt.isEmpty && missing.isEmpty && invalidReleases.isEmpty && strays.isEmpty }

    enum CodingKeys: String, CodingKey {
        case objects, bytes, releases, corrupt, missing, invalidReleases = "invalid_releases", strays, clean
        case linkSourcesChecked = "link_sources_checked", linkSourcesRemoved = "link_sources_removed"
    }

    package init() {}

    package func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(objects, forKey: .objects)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(releases, forKey: .releases)
        try c.encode(corrupt, forKey: .corrupt)
        try c.encode(missing, forKey: .missing)
        try c.encode(invalidReleases, forKey: .invalidReleases)
        try c.encode(strays, forKey: .strays)
        try c.encode(linkSourcesChecked, forKey: .linkSourcesChecked)
        try c.encode(linkSourcesRemoved, forKey: .linkSourcesRemoved)
        try c.encode(clean, forKey: .clean)
    }
}

extension Store {
    /// Every object file under `objects/sha256`, with its digest when it is named like one.
    func listObjects() throws -> (objects: [Digest], strays: [String]) {
        var objects = [Digest]()
        var strays = [String]()
        let base = "\(path)/objects/sha256"
        for fanout in try Posix.directoryNames(objectsFD, display: base).map({ String(decoding: $0, as: UTF8.self) })
            .sorted()
        {
            guard fanout.utf8.count == 2, Hex.isLowercaseHex(fanout),
                let st = try Posix.lstatat(objectsFD, fanout, display: "\(base)/\(fanout)"), st.isDirectory
            else {
                strays.append("objects/sha256/\(fanout)")
                continue
            }
            let fd = try Posix.openDirectory(objectsFD, fanout, display: "\(base)/\(fanout)")
            defer { Posix.close(fd) }
            for raw in try Posix.directoryNames(fd, display: "\(base)/\(fanout)") {
                let name = String(decoding: raw, as: UTF8.self)
                if let digest = Digest(hex: fanout + name) {
                    objects.append(digest)
                } else {
                    strays.append("objects/sha256/\(fanout)/\(name)")
                }
            }
        }
        return (objects.sorted(), strays.sorted())
    }

    /// Re-hashes every object on all cores and checks every release's manifest and references.
    package func fsck(progress: WorkProgress? = nil) throws -> FsckReport {
        var report = FsckReport()
        let (objects, strays) = try listObjects()
        report.objects = objects.count
        report.strays = strays
        let corrupt = Mutex<[Digest]>([])
        let bytes = Atomic<Int>(0)
        // The total is known up front from the objects' sizes (a stat each): "610 MiB/0 B" said nothing.
        if let progress {
            let total = objects.reduce(0) { sum, digest in
                sum + Int((try? Posix.lstatat(objectsFD, Self.objectName(digest), display: ""))??.size ?? 0)
            }
            progress.setTotals(files: objects.count, bytes: total)
        }
        try ParallelWork.run(count: objects.count, makeContext: { WorkBuffer(worker: $0) }) {
            index, buffer in
            do {
                let n = try self.streamObject(objects[index], buffer: buffer.raw) { progress?.add(bytes: $0.count) }
                bytes.add(Int(n), ordering: .relaxed)
            } catch let error as StoreError where error.code == .integrity {
                corrupt.withLock { $0.append(objects[index]) }
            }
            progress?.add(files: 1, bytes: 0)
        }
        report.bytes = bytes.load(ordering: .relaxed)
        let corruptSet = Set(corrupt.withLock { $0 })
        report.corrupt = corruptSet.sorted().map(\.description)

        let present = Set(objects)
        var missing = Set<Digest>()
        let releases = try allReleaseIDs()
        report.releases = releases.count
        for id in releases {
            guard present.contains(id.digest), !corruptSet.contains(id.digest) else {
                report.invalidReleases.append(id.description)
                continue
            }
            guard let manifest = try? self.manifest(id) else {
                report.invalidReleases.append(id.description)
                continue
            }
            missing.formUnion(manifest.blobDigests.subtracting(present))
        }
        report.missing = missing.sorted().map(\.description)
        // Link sources: re-hashed and stamped anew under the shared lock (no gc meanwhile).
        let lock = try self.lock(.shared, purpose: "fsck")
        defer { withExtendedLifetime(lock) {} }
        let buffer = IOBuffer.allocate()
        defer { buffer.deallocate() }
        let links = try recheckLinkSources(buffer: buffer)
        report.linkSourcesChecked = links.checked
        report.linkSourcesRemoved = links.removed
        return report
    }
}
