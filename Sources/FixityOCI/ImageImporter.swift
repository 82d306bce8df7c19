import FixityCore
import FixityLedger
import FixityStore
import Glibc

/// `oci import`: an image's layers flattened into a sealed release. Every tar entry is validated
/// as DESIGN.md invariant 7 says — no absolute or `..` paths, nothing beneath a symlink, no
/// device files or FIFOs, hard links only to files already in the image — and whiteouts
/// (`.wh.NAME`, `.wh..wh..opq`) remove what lower layers put there. Contents stream into the
/// store's temp space only; the release exists once every object is durable (TreeImport).
package struct ImageImporter {
    package struct Report: Sendable, Encodable {
        package let release: ReleaseID
        package let image: Digest
        package let app: String
        package let layers: Int
        package let files: Int
        package let existed: Bool
    }

    /// What an import may cost and keep.
    package struct Limits: Sendable {
        /// The most bytes the layers may expand to (all files, all layers): a small gzip layer
        /// can hold a terabyte of zeros, and every byte lands in the store.
        package var maxExpandedBytes: UInt64 = 16 << 30
        /// Keep setuid/setgid bits as the image has them; by default they are stripped (an image
        /// from elsewhere should not bring privilege with it onto a host).
        package var keepSetid = false

        package init() {}
    }

    let store: Store
    let limits: Limits
    /// The check a sealed tree must pass that OCI cannot make itself (the host's reading of a
    /// `fixity.toml`), run before the release is recorded, as `seal` runs it.
    let validate: Store.ReleaseValidator?

    package init(store: Store, limits: Limits = Limits(), validate: Store.ReleaseValidator? = nil) {
        self.store = store
        self.limits = limits
        self.validate = validate
    }

    /// `recordedAs`: what the ledger entry names as the source (a registry reference, when the
    /// layout is a scratch copy of it).
    package func importImage(
        _ source: String, app: AppName, tag: String?, recordedAs: String? = nil, progress: WorkProgress? = nil
    ) throws -> Report {
        var (layoutPath, wanted) = Self.split(source)
        var refName: String?
        var st = stat()
        // DIR:NAME, as skopeo and umoci name an image in a layout (oci:DIR:NAME): the index
        // entry whose org.opencontainers.image.ref.name is NAME.
        if wanted == nil, lstat(layoutPath, &st) != 0, let colon = layoutPath.lastIndex(of: ":") {
            let folder = String(layoutPath[..<colon])
            if lstat(folder, &st) == 0 {
                refName = String(layoutPath[layoutPath.index(after: colon)...])
                layoutPath = folder
            }
        }
        guard lstat(layoutPath, &st) == 0 else {
            throw StoreError(
                .badInput,
                "\(layoutPath): no such OCI layout folder (registry images are not supported by oci import yet: copy one with skopeo copy docker://… oci:DIR)"
            )
        }
        let reader = try LayoutReader(path: layoutPath)
        defer { reader.close() }
        let index = try reader.index()
        let images = index.manifests.filter {
            (wanted == nil || $0.digest == wanted!.description)
                && (refName == nil || $0.annotations?[OCI.Annotation.refName] == refName)
        }
        guard let descriptor = images.first else {
            throw StoreError(
                .badInput,
                "\(layoutPath) has no image \(wanted?.short ?? refName.map { "named '\($0)'" } ?? "") in its index.json"
            )
        }
        guard images.count == 1 else {
            throw StoreError(
                .badInput,
                "\(layoutPath) holds \(images.count) images; name one: \(layoutPath)@\(images.map(\.digest).joined(separator: " or @"))"
            )
        }
        let pinned = try PinnedImage(parsing: "\(layoutPath)@\(descriptor.digest)", flag: "oci import")
        let image = try pinned.load()
        defer { image.reader.close() }

        let importer = try TreeImport(store: store)
        var tree = FlatTree(keepSetid: limits.keepSetid)
        var expanded: UInt64 = 0
        let cap = limits.maxExpandedBytes
        for (number, layer) in image.manifest.layers.enumerated() {
            let blob = try image.reader.open(layer)
            let stream = try LayerStream(blob: blob, gzipped: OCI.MediaType.gzipLayers.contains(layer.mediaType))
            var tar = TarReader { try stream.read($0) }
            let where_ = "layer \(number + 1) (\(layer.digest.prefix(19))…)"
            tree.beginLayer()
            do {
                while let entry = try tar.next() {
                    try tree.apply(entry, where: where_) { display in
                        try importer.addFile(display: display) {
                            let chunk = try tar.readContent(max: IOBuffer.size)
                            expanded += UInt64(chunk.count)
                            progress?.add(files: chunk.isEmpty ? 1 : 0, bytes: chunk.count)
                            guard expanded <= cap else {
                                throw StoreError(
                                    .badInput,
                                    "\(layoutPath): the image expands past \(cap) bytes (at \(where_), '\(display)'); nothing was imported (raise the cap with --max-size if this image is meant to be that large)"
                                )
                            }
                            return chunk
                        }
                    }
                }
            } catch {
                // A blob that is not what its digest says is the root cause of whatever its
                // bytes then broke (gzip, tar): say that.
                if !blob.matchesAfterDraining() {
                    throw StoreError(
                        .integrity, "\(layoutPath): \(where_) does not match its digest or size (corrupt or tampered)")
                }
                if let error = error as? TarReader.FormatError {
                    throw StoreError(.badInput, "\(layoutPath): \(where_): \(error.message)")
                }
                throw error
            }
            let diffID = try stream.finish()
            guard diffID.description == image.config.rootfs.diff_ids[number] else {
                throw StoreError(
                    .integrity,
                    "\(layoutPath): \(where_) uncompresses to \(diffID.short), but the config's diff_id says \(image.config.rootfs.diff_ids[number].prefix(19))…"
                )
            }
        }
        let imageDigest = try image.manifestDescriptor.validDigest()
        let report = try importer.finish(
            entries: tree.entries(), app: app, tag: tag, action: .ociImport,
            details: [
                "image": imageDigest.description, "source": recordedAs ?? layoutPath,
                "layers": String(image.manifest.layers.count), "app": app.value,
            ],
            validate: validate)
        return Report(
            release: report.release, image: imageDigest, app: app.value, layers: image.manifest.layers.count,
            files: report.files, existed: report.existed)
    }

    package static func split(_ source: String) -> (String, Digest?) {
        if let at = source.lastIndex(of: "@"), let digest = Digest(parsing: String(source[source.index(after: at)...]))
        {
            return (String(source[..<at]), digest)
        }
        return (source, nil)
    }
}

/// The union of layers applied so far, path → entry.
struct FlatTree {
    enum Node {
        case directory(mode: UInt32)
        case file(mode: UInt32, size: UInt64, digest: Digest)
        case symlink(String)
    }

    private var nodes = [String: Node]()
    /// Paths this layer put there: an opaque whiteout spares them.
    private var thisLayer = Set<String>()
    /// Keep setuid/setgid (and sticky) bits; else only the permission bits are imported.
    let keepSetid: Bool

    init(keepSetid: Bool = false) { self.keepSetid = keepSetid }

    /// The mode a tar entry's mode becomes in the release.
    private func imported(_ mode: UInt32) -> UInt32 { keepSetid ? mode & 0o7777 : mode & 0o1777 }

    mutating func beginLayer() { thisLayer.removeAll() }

    mutating func apply(_ entry: TarReader.Entry, where place: String, addFile: (String) throws -> (Digest, UInt64))
        throws
    {
        func refuse(_ problem: String) -> StoreError { StoreError(.badInput, "\(place): '\(entry.name)': \(problem)") }
        guard let path = try Self.normalize(entry.name, refuse: refuse) else { return }  // the root itself
        let components = path.split(separator: "/")
        let name = String(components.last!)
        let parent = components.dropLast().joined(separator: "/")
        // Whiteouts act on lower layers and are not themselves content.
        if name == ".wh..wh..opq" {
            try ensureParents(of: path, refuse: refuse)
            let prefix = parent.isEmpty ? "" : parent + "/"
            for key in nodes.keys where key.hasPrefix(prefix) && key != parent && !thisLayer.contains(key) {
                nodes[key] = nil
            }
            return
        }
        if name.hasPrefix(".wh.") {
            let victim = (parent.isEmpty ? "" : parent + "/") + String(name.dropFirst(4))
            guard EntryPath.problem(with: victim) == nil else { throw refuse("whiteout of an invalid name") }
            removeSubtree(victim)
            return
        }
        try ensureParents(of: path, refuse: refuse)
        let node: Node
        switch entry.type {
        case .directory:
            if case .directory? = nodes[path] {} else { removeSubtree(path) }
            nodes[path] = .directory(mode: imported(entry.mode))
            thisLayer.insert(path)
            return
        case .file:
            let (digest, size) = try addFile(path)
            node = .file(mode: imported(entry.mode), size: size, digest: digest)
        case .symlink:
            if let problem = EntryPath.problem(withTarget: entry.linkName) { throw refuse(problem) }
            node = .symlink(entry.linkName)
        case .hardLink:
            guard let target = try Self.normalize(entry.linkName, refuse: refuse),
                case .file(let mode, let size, let digest)? = nodes[target]
            else {
                throw refuse(
                    "hard link to '\(entry.linkName)', which is not a file in the image (a link outside the root?)")
            }
            node = .file(mode: mode, size: size, digest: digest)
        case .special(let kind):
            throw refuse("a \(kind) cannot be part of a release")
        }
        removeSubtree(path)
        nodes[path] = node
        thisLayer.insert(path)
    }

    /// Every ancestor must be a directory; missing ones are created 0755 (tar may omit them).
    private mutating func ensureParents(of path: String, refuse: (String) -> StoreError) throws {
        var ancestor = ""
        for component in path.split(separator: "/").dropLast() {
            ancestor = ancestor.isEmpty ? String(component) : ancestor + "/" + component
            switch nodes[ancestor] {
            case .directory?: continue
            case .symlink?:
                throw refuse("passes through the symlink '\(ancestor)' (Fixity never writes through symlinks)")
            case .file?: throw refuse("is beneath '\(ancestor)', which is a file")
            case nil: nodes[ancestor] = .directory(mode: 0o755)
            }
        }
    }

    private mutating func removeSubtree(_ path: String) {
        guard nodes[path] != nil else { return }
        if case .directory? = nodes[path] {
            let prefix = path + "/"
            for key in nodes.keys where key.hasPrefix(prefix) { nodes[key] = nil }
        }
        nodes[path] = nil
    }

    /// `./a/b/`, `a//b` → `a/b`; nil for the root; absolute paths and `..` refused.
    static func normalize(_ name: String, refuse: (String) -> StoreError) throws -> String? {
        if name.hasPrefix("/") { throw refuse("absolute path") }
        let parts = name.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        if parts.isEmpty { return nil }
        let path = parts.joined(separator: "/")
        if let problem = EntryPath.problem(with: path) { throw refuse(problem) }
        return path
    }

    func entries() -> [ManifestEntry] {
        nodes.map { path, node -> ManifestEntry in
            switch node {
            case .directory(let mode): .directory(path, mode: mode)
            case .file(let mode, let size, let digest): .file(path, mode: mode, size: size, digest: digest)
            case .symlink(let target): .symlink(path, target: target)
            }
        }.sorted { EntryPath.precedes($0.path, $1.path) }
    }
}
