import FixityCore
import Foundation
import GRDB
import Glibc
import Synchronization

/// A content-addressed store on a local file system:
///
///     STORE/
///       objects/sha256/<2 hex>/<62 hex>   blobs and manifests, read-only, named by their SHA-256
///       tmp/                              objects being written; never read as objects
///       links/<mode>/<2 hex>/<62 hex>     copies of blobs with a manifest mode, for --link hardlink
///       cache/stat/<64 hex>               seal's stat cache, one per sealed folder (Seal/StatCache)
///       cache/gc-epoch                    replaced by gc before it removes objects
///       fixity.db                         SQLite: releases, tags, trust, roots, the ledger
///       lock                              flock: shared by writers of objects, exclusive for gc
///
/// Created on first use. See docs/design.md for the write ordering.
package final class Store: Sendable {
    package let path: String
    let rootFD: Int32
    /// `objects/sha256`, where `<2 hex>/<62 hex>` names an object.
    let objectsFD: Int32
    let tmpFD: Int32
    /// `links/`: the hardlink sources of `--link hardlink` deploys (see Store+LinkFarm).
    let linksFD: Int32
    /// `cache/`: what can be lost without losing anything but time (the seal stat cache).
    let cacheFD: Int32
    package let database: DatabaseQueue
    /// "Now" for every time this store records (see `WallClock`).
    package let clock: any WallClock
    /// The last few manifests read and verified. A manifest is named by its digest, so a copy
    /// never goes stale; a deploy reads the same 2.5 MB manifest up to three times otherwise.
    let verifiedManifests = Mutex<[ReleaseID: Manifest]>([:])
    static let verifiedManifestsKept = 4
    /// The schema parts of other targets already applied to `database` (see `ensureSchema`).
    let appliedSchemaParts = Mutex<Set<String>>([])

    package static func open(at path: String, clock: any WallClock = SystemClock()) throws -> Store {
        try createDirectories(path)
        return try Store(path: path, clock: clock)
    }

    private init(path: String, clock: any WallClock) throws {
        self.path = path
        self.clock = clock
        rootFD = try Posix.open(path, flags: O_RDONLY | O_DIRECTORY)
        // A store another user owns or can write to could have its database swapped between
        // two commands (releases, tags, the ledger, the policy): refused, as roots are.
        do {
            try StrictModes.requireTrusted(rootFD, what: "store", display: path, override: nil)
        } catch {
            Posix.close(rootFD)
            throw error
        }
        try Posix.mkdirat(rootFD, "objects", mode: 0o755, display: "\(path)/objects")
        try Posix.mkdirat(rootFD, "objects/sha256", mode: 0o755, display: "\(path)/objects/sha256")
        try Posix.mkdirat(rootFD, "tmp", mode: 0o700, display: "\(path)/tmp")
        try Posix.mkdirat(rootFD, "links", mode: 0o755, display: "\(path)/links")
        try Posix.mkdirat(rootFD, "cache", mode: 0o700, display: "\(path)/cache")
        try Posix.mkdirat(rootFD, "cache/stat", mode: 0o700, display: "\(path)/cache/stat")
        objectsFD = try Posix.openDirectory(rootFD, "objects/sha256", display: "\(path)/objects/sha256")
        tmpFD = try Posix.openDirectory(rootFD, "tmp", display: "\(path)/tmp")
        linksFD = try Posix.openDirectory(rootFD, "links", display: "\(path)/links")
        cacheFD = try Posix.openDirectory(rootFD, "cache", display: "\(path)/cache")
        database = try StoreDatabase.open(at: "\(path)/\(StoreDatabase.fileName)")
    }

    deinit {
        Posix.close(cacheFD)
        Posix.close(linksFD)
        Posix.close(tmpFD)
        Posix.close(objectsFD)
        Posix.close(rootFD)
    }

    /// `mkdir -p` for the store's own folder (0700 for the parts created: the store holds keys later).
    private static func createDirectories(_ path: String) throws {
        guard !path.isEmpty else { throw StoreError(.badInput, "empty store path") }
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if Glibc.mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw StoreError.system("mkdir", path: current)
            }
        }
        var st = stat()
        guard Glibc.fstatat(AT_FDCWD, path, &st, 0) == 0, FileStat(st).isDirectory else {
            throw StoreError(.badInput, "store \(path) is not a directory", path: path)
        }
    }
}
