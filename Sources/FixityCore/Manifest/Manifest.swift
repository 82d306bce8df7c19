/// A validated tree description with its canonical bytes (format v1, see docs/manifest.md).
///
/// The only ways to get one are `Manifest(entries:)`, which validates entries built in memory, and
/// `UnverifiedManifest.verified()`, which validates bytes read from elsewhere. Either way the
/// entries are in canonical order, every path is legal, and every parent is a directory entry.
public struct Manifest: Sendable {
    public static let header = "fixity-manifest 1\n"

    public let entries: [ManifestEntry]
    /// The canonical encoding; `id` is its SHA-256.
    public let bytes: [UInt8]
    public let id: ReleaseID

    /// Sorts nothing: `entries` must already be in canonical order (a walk yields that order),
    /// so an out-of-order input is reported instead of silently fixed.
    public init(entries: [ManifestEntry]) throws(ManifestError) {
        try ManifestRules.validate(entries)
        self.entries = entries
        self.bytes = ManifestEncoding.encode(entries)
        self.id = ReleaseID(manifestBytes: bytes)
    }

    init(validatedEntries entries: [ManifestEntry], bytes: [UInt8]) {
        self.entries = entries
        self.bytes = bytes
        self.id = ReleaseID(manifestBytes: bytes)
    }

    public var fileCount: Int { entries.count { if case .file = $0.kind { true } else { false } } }

    /// Total bytes of regular files.
    public var fileBytes: UInt64 { entries.reduce(0) { $0 + ($1.digest == nil ? 0 : $1.size) } }

    /// Distinct blob digests the manifest references.
    public var blobDigests: Set<Digest> { Set(entries.compactMap(\.digest)) }

    /// The entry at `path`, by binary search in canonical order.
    public func entry(at path: String) -> ManifestEntry? {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].path.utf8.elementsEqual(path.utf8) { return entries[mid] }
            if EntryPath.precedes(entries[mid].path, path) { low = mid + 1 } else { high = mid }
        }
        return nil
    }
}

/// Bytes claimed to be a manifest, not yet checked. `verified()` parses strictly: any byte
/// sequence other than the canonical encoding of a valid tree is refused.
public struct UnverifiedManifest: Sendable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public func verified() throws(ManifestError) -> Manifest {
        let entries = try ManifestEncoding.decode(bytes)
        try ManifestRules.validate(entries)
        return Manifest(validatedEntries: entries, bytes: bytes)
    }
}

/// The tree rules every manifest obeys, whether built from a walk or parsed.
enum ManifestRules {
    static func validate(_ entries: [ManifestEntry]) throws(ManifestError) {
        // Canonical order puts every folder's descendants right after it, so the folders that can
        // still hold the next entry are exactly a stack of open ancestors: no set of all paths.
        var openFolders = [String]()
        var previous: String?
        for (index, entry) in entries.enumerated() {
            let line = index + 2
            if let problem = EntryPath.problem(with: entry.path) {
                throw ManifestError(line: line, path: entry.path, problem)
            }
            if let previous, !EntryPath.precedes(previous, entry.path) {
                throw ManifestError(
                    line: line, path: entry.path,
                    previous.utf8.elementsEqual(entry.path.utf8)
                        ? "duplicate entry" : "entries out of canonical order (after '\(previous)')")
            }
            let parent = EntryPath.parent(of: entry.path)
            let parentLength = parent?.utf8.count ?? -1
            while let top = openFolders.last, !isFolder(top, parentOf: entry.path, parentLength: parentLength) {
                openFolders.removeLast()
            }
            if let parent, openFolders.isEmpty {
                throw ManifestError(
                    line: line, path: entry.path, "parent '\(parent)' is not a directory entry of this manifest")
            }
            guard entry.mode <= 0o7777 else {
                throw ManifestError(line: line, path: entry.path, "mode beyond permission bits")
            }
            switch entry.kind {
            case .directory:
                openFolders.append(entry.path)
            case .symlink(let target):
                if entry.mode != 0o777 {
                    throw ManifestError(line: line, path: entry.path, "symlink mode must be 0777")
                }
                if let problem = EntryPath.problem(withTarget: target) {
                    throw ManifestError(line: line, path: entry.path, problem)
                }
            case .file(let size, _):
                if size > UInt64(Int64.max) { throw ManifestError(line: line, path: entry.path, "size out of range") }
            }
            previous = entry.path
        }
    }

    /// True when `folder` is the first `parentLength` bytes of `path` (its parent folder),
    /// compared as bytes: this runs for every entry of every manifest.
    private static func isFolder(_ folder: String, parentOf path: String, parentLength: Int) -> Bool {
        guard folder.utf8.count == parentLength else { return false }
        var folder = folder
        var path = path
        return folder.withUTF8 { f in
            path.withUTF8 { p in f.elementsEqual(UnsafeBufferPointer(rebasing: p[0..<parentLength])) }
        }
    }
}
