import FixityCore
import FixityLedger
import FixityStore
import Foundation

/// `oci export`: a release as an OCI image layout whose top layer is the release tree, on an
/// optional base pinned by digest. Reproducible: entries in manifest order, uid/gid 0, one mtime
/// (`SOURCE_DATE_EPOCH` or 0), gzip with a fixed header at level 1, JSON with sorted keys — so the
/// same release, settings and base give the same image digest on every run (docs/oci.md).
package struct ImageExporter {
    package static let gzipLevel: Int32 = 1

    package struct Report: Sendable, Encodable {
        package let release: ReleaseID
        package let image: Digest
        package let layer: Digest
        package let diffID: Digest
        package let layerBytes: Int
        package let out: String
        package let base: Digest?
        enum CodingKeys: String, CodingKey {
            case release, image, layer, diffID = "diff_id", layerBytes = "layer_bytes", out, base
        }
    }

    let store: Store

    package init(store: Store) { self.store = store }

    /// `record`: false when the layout is an intermediate (oci push records its own entry).
    package func export(
        _ release: ReleaseID, to out: String, flags: ImageSettings, base: String?, epoch: Int64, refName: String?,
        record: Bool = true,
        progress: WorkProgress? = nil
    ) throws -> Report {
        let manifest = try store.manifest(release)
        let settings = try ImageSettings.fromRelease(manifest, store: store).overridden(by: flags)
        let pinned = try base.map { try PinnedImage(parsing: $0, flag: "--base") }
        let baseImage = try pinned?.load()
        defer { baseImage?.reader.close() }

        let writer = try LayoutWriter(path: out)
        var layers = [OCI.Descriptor]()
        if let baseImage {
            // The base's layers, copied byte for byte and verified on the way.
            for layer in baseImage.manifest.layers {
                let blob = try writer.blobWriter()
                try baseImage.reader.stream(layer) { try blob.write($0) }
                try blob.finish(as: try layer.validDigest())
                layers.append(
                    OCI.Descriptor(mediaType: layer.mediaType, digest: try layer.validDigest(), size: Int(layer.size)))
            }
        }
        progress?.setTotals(files: manifest.fileCount, bytes: Int(manifest.fileBytes))
        let layer = try writeLayer(manifest, into: writer, epoch: epoch, progress: progress)
        layers.append(OCI.Descriptor(mediaType: OCI.MediaType.layerGzip, digest: layer.digest, size: layer.size))

        let created = OCI.rfc3339(epoch: epoch)
        let config = makeConfig(
            release: release, settings: settings, base: baseImage?.config, diffID: layer.diffID, created: created)
        let configDescriptor = try writer.addBlob(OCI.encode(config), mediaType: OCI.MediaType.config)
        var annotations = [OCI.Annotation.created: created, OCI.Annotation.release: release.description]
        if let pinned { annotations[OCI.Annotation.baseDigest] = pinned.digest.description }
        let imageManifest = OCI.Manifest(config: configDescriptor, layers: layers, annotations: annotations)
        let platform = try settings.platform ?? OCI.Platform(parsing: "\(config.os)/\(config.architecture)")
        let manifestDescriptor = try writer.addBlob(
            OCI.encode(imageManifest), mediaType: OCI.MediaType.manifest,
            annotations: [OCI.Annotation.refName: refName ?? "latest"], platform: platform)
        try writer.commit(index: OCI.Index(manifests: [manifestDescriptor]))
        let image = try manifestDescriptor.validDigest()

        if record {
            try store.database.storeWrite { db in
                _ = try store.record(
                    db, action: .ociExport, subject: release.description,
                    details: [
                        "image": image.description, "layer": layer.digest.description,
                        "diff_id": layer.diffID.description,
                        "base": LedgerDetail.optional(pinned?.digest.description), "out": out,
                    ])
            }
        }
        return Report(
            release: release, image: image, layer: layer.digest, diffID: layer.diffID, layerBytes: layer.size, out: out,
            base: pinned?.digest)
    }

    /// The release tree as a gzip'd tar blob; returns the compressed digest and size and the
    /// uncompressed digest (the config's diff_id). Every object is verified as it is read.
    private func writeLayer(_ manifest: Manifest, into writer: LayoutWriter, epoch: Int64, progress: WorkProgress?)
        throws -> (digest: Digest, size: Int, diffID: Digest)
    {
        let blob = try writer.blobWriter()
        let diffID = try streamLayer(manifest, epoch: epoch, progress: progress) { try blob.write($0) }
        let digest = blob.digest
        try blob.finish(as: digest)
        return (digest, blob.size, diffID)
    }

    /// The layer's compressed digest and diff_id for `release` exported at `epoch`, computed
    /// without writing anything: export is reproducible, so this is what any export of the
    /// release holds (`oci verify` binds an image's claim to its bytes with it).
    package func layerDigests(of release: ReleaseID, epoch: Int64) throws -> (digest: Digest, diffID: Digest) {
        var hasher = ContentHasher()
        let diffID = try streamLayer(try store.manifest(release), epoch: epoch) { hasher.update($0) }
        return (hasher.finalize(), diffID)
    }

    /// Streams the release tree as a gzip'd tar to `sink`; returns the tar's digest (diff_id).
    private func streamLayer(
        _ manifest: Manifest, epoch: Int64, progress: WorkProgress? = nil, sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Digest {
        let gzip = try Gzip.deflater(level: Self.gzipLevel)
        var tarHasher = ContentHasher()
        // Tar bytes are gathered into 1 MiB before each deflate call.
        var pending = [UInt8]()
        pending.reserveCapacity(IOBuffer.size)
        func emit(_ bytes: UnsafeRawBufferPointer) throws {
            tarHasher.update(bytes)
            pending.append(contentsOf: bytes)
            if pending.count >= IOBuffer.size { try flush() }
        }
        func emit(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try emit($0) } }
        func flush(finish: Bool = false) throws {
            _ = try gzip.process(pending, finish: finish) { try sink($0) }
            pending.removeAll(keepingCapacity: true)
        }
        let buffer = IOBuffer.allocate()
        defer { buffer.deallocate() }
        for entry in manifest.entries {
            switch entry.kind {
            case .directory:
                try emit(
                    TarHeader.encode(name: entry.path + "/", type: .directory, mode: entry.mode, size: 0, mtime: epoch))
            case .symlink(let target):
                try emit(
                    TarHeader.encode(
                        name: entry.path, type: .symlink, mode: 0o777, size: 0, linkName: target, mtime: epoch))
            case .file(let size, let digest):
                try emit(TarHeader.encode(name: entry.path, type: .file, mode: entry.mode, size: size, mtime: epoch))
                let written = try store.streamObject(digest, buffer: buffer) {
                    try emit($0)
                    progress?.add(bytes: $0.count)
                }
                progress?.add(files: 1, bytes: 0)
                guard written == size else {
                    throw StoreError(
                        .integrity, "object \(digest.short) has \(written) bytes, the manifest says \(size)")
                }
                try emit([UInt8](repeating: 0, count: TarHeader.padding(size)))
            }
        }
        try emit(TarHeader.end)
        try flush(finish: true)
        return tarHasher.finalize()
    }

    private func makeConfig(
        release: ReleaseID, settings: ImageSettings, base: OCI.ImageConfig?, diffID: Digest, created: String
    ) -> OCI.ImageConfig {
        var run = base?.config ?? OCI.ImageConfig.Settings()
        if !settings.env.isEmpty {
            // A key set again replaces the earlier value, in place.
            var env = run.Env ?? []
            for pair in settings.env {
                let key = pair.prefix { $0 != "=" }
                if let index = env.firstIndex(where: { $0.prefix { $0 != "=" } == key }) {
                    env[index] = pair
                } else {
                    env.append(pair)
                }
            }
            run.Env = env
        }
        if let value = settings.entrypoint {
            run.Entrypoint = value
            // As docker does: a new entrypoint drops the base's cmd unless one is given.
            if settings.cmd == nil { run.Cmd = nil }
        }
        if let value = settings.cmd { run.Cmd = value }
        if let value = settings.workdir { run.WorkingDir = value }
        if let value = settings.user { run.User = value }
        if !settings.labels.isEmpty { run.Labels = (run.Labels ?? [:]).merging(settings.labels) { _, new in new } }
        let platform = settings.platform
        var history = base?.history ?? []
        history.append(
            .init(created: created, createdBy: "fixity oci export \(release)", comment: "the sealed release tree"))
        return OCI.ImageConfig(
            architecture: platform?.architecture ?? base?.architecture ?? "amd64",
            os: platform?.os ?? base?.os ?? "linux",
            variant: platform?.variant ?? (platform == nil ? base?.variant : nil), config: run,
            rootfs: .init(diffIDs: (base?.rootfs.diff_ids ?? []) + [diffID.description]), history: history,
            created: created)
    }
}
