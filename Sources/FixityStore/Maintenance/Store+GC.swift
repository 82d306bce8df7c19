import FixityCore
import FixityLedger
import Glibc

package struct GCReport: Sendable, Codable {
    package var removedObjects: [String] = []
    package var removedBytes = 0
    package var removedTemp = 0
    /// What the temp files held (an interrupted seal's or import's data): worth saying in bytes.
    package var removedTempBytes = 0
    package var keptObjects = 0
    /// Hardlink sources (`links/`) no deployment uses any more.
    package var removedLinkSources = 0
    package var dryRun = false

    enum CodingKeys: String, CodingKey {
        case removedObjects = "removed_objects", removedBytes = "removed_bytes", removedTemp = "removed_temp",
            removedTempBytes = "removed_temp_bytes"
        case keptObjects = "kept_objects", dryRun = "dry_run", removedLinkSources = "removed_link_sources"
    }
}

extension Store {
    /// Removes objects that no recorded release references (leftovers of an interrupted seal) and
    /// stale temp files. Holds the store lock exclusively, so no seal is running: every object a
    /// seal has written or relied on is referenced by a recorded release by the time gc can run.
    /// Refuses to run when a release's manifest cannot be read: gc never guesses what is live.
    package func gc(dryRun: Bool) throws -> GCReport {
        if let database = catalogElsewhere() {
            throw StoreError(
                .refused,
                "gc refused: this folder holds the blobs of a replicated server whose catalog is in \(database); its own database knows none of their releases, so gc here would remove every blob"
            )
        }
        let lock = try self.lock(.exclusive, purpose: "gc")
        defer { withExtendedLifetime(lock) {} }
        var live = Set<Digest>()
        for id in try allReleaseIDs() {
            let manifest: Manifest
            do {
                manifest = try self.manifest(id)
            } catch let error as StoreError {
                throw StoreError(.integrity, "gc refused: \(error.message); run fixity fsck", path: error.path)
            }
            live.insert(id.digest)
            live.formUnion(manifest.blobDigests)
        }
        var report = GCReport()
        report.dryRun = dryRun
        let (objects, _) = try listObjects()
        // Stat caches vouch that their blobs are present: from here on they must check again.
        if !dryRun, objects.contains(where: { !live.contains($0) }) { try renewGCEpoch() }
        for digest in objects {
            if live.contains(digest) {
                report.keptObjects += 1
                continue
            }
            let name = Self.objectName(digest)
            report.removedObjects.append(digest.description)
            report.removedBytes += Int(try Posix.lstatat(objectsFD, name, display: objectPath(digest))?.size ?? 0)
            if !dryRun { try Posix.unlinkat(objectsFD, name, display: objectPath(digest)) }
        }
        report.removedLinkSources = try sweepLinkFarm(live: live, dryRun: dryRun)
        for raw in try Posix.directoryNames(tmpFD, display: "\(path)/tmp") {
            report.removedTemp += 1
            let name = String(decoding: raw, as: UTF8.self)
            if let st = try? Posix.lstatat(tmpFD, name, display: "\(path)/tmp/\(name)"), st.isRegularFile {
                report.removedTempBytes += Int(st.size)
            }
            if !dryRun {
                let name = String(decoding: raw, as: UTF8.self)
                try Posix.removeTree(tmpFD, name, display: "\(path)/tmp/\(name)")
            }
        }
        if !dryRun {
            try Posix.syncfs(rootFD, display: path)
            if !report.removedObjects.isEmpty || report.removedTemp > 0 {
                try database.storeWrite { db in
                    try record(
                        db, action: .gc, subject: "store",
                        details: [
                            "removed_objects": String(report.removedObjects.count),
                            "removed_bytes": String(report.removedBytes),
                        ])
                }
            }
        }
        return report
    }
}
