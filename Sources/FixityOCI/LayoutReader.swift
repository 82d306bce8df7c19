import FixityCore
import FixityStore
import Glibc

/// Reads an OCI image layout without trusting it: blobs are opened by validated digest only
/// (never a path from a document), never through a symlink, and every byte read is checked
/// against the digest that named it.
package struct LayoutReader {
    package let path: String
    private let blobsFD: Int32

    /// JSON documents larger than this are refused before they are parsed.
    static let maxDocumentBytes = 4 << 20

    package init(path: String) throws {
        self.path = path
        var st = stat()
        guard lstat(path, &st) == 0, FileStat(st).isDirectory else {
            throw StoreError(.badInput, "\(path) is not an OCI image layout folder", path: path)
        }
        guard let layout = try? Self.readSmall(AT_FDCWD, "\(path)/oci-layout"),
            let text = String(validating: layout, as: UTF8.self), text.contains("imageLayoutVersion")
        else {
            throw StoreError(.badInput, "\(path) has no oci-layout file: not an OCI image layout", path: path)
        }
        blobsFD = try Posix.open("\(path)/blobs/sha256", flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    }

    package func close() { Posix.close(blobsFD) }

    package func index() throws -> OCI.Index {
        let bytes = try Self.readSmall(AT_FDCWD, "\(path)/index.json")
        do { return try OCI.decode(OCI.Index.self, bytes, what: "\(path)/index.json") } catch {
            throw StoreError(.badInput, error.message, path: path)
        }
    }

    /// A JSON blob, size-limited and verified.
    package func document(_ descriptor: OCI.Descriptor) throws -> [UInt8] {
        let digest = try validDigest(descriptor)
        guard descriptor.size <= Self.maxDocumentBytes else {
            throw StoreError(.badInput, "\(path): document \(digest.short) of \(descriptor.size) bytes is too large")
        }
        let bytes = try Self.readSmall(blobsFD, digest.hex, display: "\(path)/blobs/sha256/\(digest.hex)")
        guard Int64(bytes.count) == descriptor.size, Digest.of(bytes) == digest else {
            throw StoreError(
                .integrity, "\(path): blob \(digest) does not match its digest or size (corrupt or tampered layout)",
                path: path)
        }
        return bytes
    }

    /// Streams a blob to `sink`, then checks digest and size; the sink has seen the bytes, so
    /// callers stage what they build and discard it on error.
    package func stream(_ descriptor: OCI.Descriptor, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let blob = try open(descriptor)
        let buffer = IOBuffer.allocate()
        defer { buffer.deallocate() }
        while case let n = try blob.read(into: buffer), n > 0 {
            try sink(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        try blob.finishAndVerify()
    }

    /// A blob opened for pulling; `finishAndVerify` checks digest and size at the end.
    package func open(_ descriptor: OCI.Descriptor) throws -> BlobReader {
        let digest = try validDigest(descriptor)
        let display = "\(path)/blobs/sha256/\(digest.hex)"
        do {
            let fd = try Posix.openat(blobsFD, digest.hex, flags: O_RDONLY | O_NOFOLLOW | O_CLOEXEC, display: display)
            return BlobReader(fd: fd, digest: digest, size: descriptor.size, display: display)
        } catch {
            throw StoreError(.badInput, "\(path): blob \(digest) is missing from the layout", path: display)
        }
    }

    package final class BlobReader {
        let fd: Int32
        package let digest: Digest
        package let size: Int64
        let display: String
        private var hasher = ContentHasher()
        private(set) var total: Int64 = 0

        init(fd: Int32, digest: Digest, size: Int64, display: String) {
            self.fd = fd
            self.digest = digest
            self.size = size
            self.display = display
        }

        deinit { Posix.close(fd) }

        /// 0 at the end.
        package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = try Posix.read(fd, into: buffer, display: display)
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
            guard total <= size else {
                throw StoreError(
                    .integrity, "blob \(digest) is larger than its descriptor says (\(size) bytes)", path: display)
            }
            return n
        }

        /// Reads what is left and says whether the whole blob matched; for explaining a failure.
        package func matchesAfterDraining() -> Bool { (try? finishAndVerify()) != nil }

        package func finishAndVerify() throws {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            defer { buffer.deallocate() }
            while try read(into: buffer) > 0 {}
            guard total == size, hasher.finalize() == digest else {
                throw StoreError(
                    .integrity, "layer \(digest) does not match its digest or size (corrupt or tampered)", path: display
                )
            }
        }
    }

    private func validDigest(_ descriptor: OCI.Descriptor) throws -> Digest {
        do { return try descriptor.validDigest() } catch { throw StoreError(.badInput, "\(path): \(error.message)") }
    }

    static func readSmall(_ dirfd: Int32, _ name: String, display: String? = nil) throws -> [UInt8] {
        let shown = display ?? name
        let fd = try Posix.openat(dirfd, name, flags: O_RDONLY | O_NOFOLLOW | O_CLOEXEC, display: shown)
        defer { Posix.close(fd) }
        let st = try Posix.fstat(fd, display: shown)
        guard st.isRegularFile, st.size <= maxDocumentBytes else {
            throw StoreError(.badInput, "\(shown) is not a regular file of at most 4 MiB", path: shown)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maxDocumentBytes + 1, alignment: 16)
        defer { buffer.deallocate() }
        var count = 0
        while count <= maxDocumentBytes {
            let n = try Posix.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[count...]), display: shown)
            if n == 0 { break }
            count += n
        }
        return Array(buffer[0..<count])
    }
}

/// An image named `LAYOUT_DIR@sha256:<manifest digest>` (or a registry reference, which needs
/// `oci push`'s client: not built yet) — always pinned by digest.
package struct PinnedImage {
    package let layout: String
    package let digest: Digest

    package init(parsing text: String, flag: String) throws {
        guard let at = text.lastIndex(of: "@"), let digest = Digest(parsing: String(text[text.index(after: at)...]))
        else {
            throw StoreError(
                .badInput,
                "\(flag) \(text) is not pinned by digest: give LAYOUT_DIR@sha256:<manifest digest> (a tag can move; a base must not)"
            )
        }
        let location = String(text[..<at])
        var st = stat()
        guard lstat(location, &st) == 0 else {
            throw StoreError(
                .badInput,
                "\(flag) \(location): no such layout folder (registry images are not supported here yet: export one with skopeo copy docker://… oci:DIR)"
            )
        }
        layout = location
        self.digest = digest
    }

    /// The image's manifest and config, from the layout, verified.
    package func load() throws -> (
        reader: LayoutReader, manifest: OCI.Manifest, config: OCI.ImageConfig, manifestDescriptor: OCI.Descriptor
    ) {
        let reader = try LayoutReader(path: layout)
        let index = try reader.index()
        guard let descriptor = index.manifests.first(where: { $0.digest == digest.description }) else {
            throw StoreError(
                .badInput,
                "\(layout) has no image \(digest.short) in its index.json (it has: \(index.manifests.map { String($0.digest.prefix(19)) }.joined(separator: ", ")))"
            )
        }
        guard OCI.MediaType.manifests.contains(descriptor.mediaType) else {
            throw StoreError(
                .badInput,
                "\(layout): \(digest.short) is a \(descriptor.mediaType), not an image manifest (pick one platform's manifest)"
            )
        }
        let manifest: OCI.Manifest
        let config: OCI.ImageConfig
        do {
            manifest = try OCI.decode(
                OCI.Manifest.self, try reader.document(descriptor), what: "image manifest \(digest.short)")
            config = try OCI.decode(
                OCI.ImageConfig.self, try reader.document(manifest.config),
                what: "image config \(manifest.config.digest.prefix(19))")
        } catch let error as OCIError {
            throw StoreError(.badInput, "\(layout): \(error.message)")
        }
        for layer in manifest.layers
        where !OCI.MediaType.gzipLayers.contains(layer.mediaType)
            && !OCI.MediaType.plainLayers.contains(layer.mediaType)
        {
            throw StoreError(
                .badInput, "\(layout): layer \(layer.digest.prefix(19)) has unsupported media type \(layer.mediaType)")
        }
        guard manifest.layers.count == config.rootfs.diff_ids.count else {
            throw StoreError(
                .badInput,
                "\(layout): the manifest has \(manifest.layers.count) layers but the config \(config.rootfs.diff_ids.count) diff_ids"
            )
        }
        return (reader, manifest, config, descriptor)
    }
}
