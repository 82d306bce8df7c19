import FixityCore
import FixityOCI
import FixityLedger
import FixityStore
import Foundation

/// `oci push`: exports the release (as `oci export` would, same digest) into a scratch layout,
/// uploads what the registry lacks, puts the manifest, and attaches the release's DSSE envelopes
/// (signatures, provenance, test results) as referrers of the image.
package struct ImagePusher {
    package struct Report: Sendable, Encodable {
        package let release: ReleaseID
        package let image: Digest
        package let reference: String
        package let uploaded: [String]
        package let skipped: [String]
        package let referrers: [String]
    }

    let store: Store

    package init(store: Store) { self.store = store }

    package func push(
        _ release: ReleaseID, to reference: RegistryReference, flags: ImageSettings, base: String?, epoch: Int64,
        insecure: Bool, credentials: RegistryCredentials?
    ) async throws -> Report {
        guard reference.digest == nil else {
            throw OCIError("push to REGISTRY/REPO[:TAG], not to a digest: the digest is what the push prints")
        }
        return try await RegistryClient.session(reference, insecure: insecure, credentials: credentials) { client in
            try await push(release, with: client, flags: flags, base: base, epoch: epoch)
        }
    }

    private func push(
        _ release: ReleaseID, with client: RegistryClient, flags: ImageSettings, base: String?, epoch: Int64
    )
        async throws -> Report
    {
        let reference = client.reference
        let folder = try PrivateTempFolder(purpose: "push")
        defer { folder.remove() }
        let scratch = folder.child("layout")
        let exported = try ImageExporter(store: store).export(
            release, to: scratch, flags: flags, base: base, epoch: epoch, refName: reference.tag, record: false)
        let image = try PinnedImage(parsing: "\(scratch)@\(exported.image)", flag: "push").load()
        defer { image.reader.close() }

        var uploaded = [String]()
        var skipped = [String]()
        for descriptor in [image.manifest.config] + image.manifest.layers {
            let digest = try descriptor.validDigest()
            let blob = try image.reader.open(descriptor)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RegistryClient.chunkSize, alignment: 16)
            defer { buffer.deallocate() }
            let sent = try await client.pushBlob(digest, size: Int(descriptor.size)) { want in
                var filled = 0
                while filled < want {
                    let n = try blob.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<want]))
                    if n == 0 { break }
                    filled += n
                }
                return Array(buffer[0..<filled])
            }
            if sent { try blob.finishAndVerify() }
            if sent { uploaded.append(digest.description) } else { skipped.append(digest.description) }
        }
        let manifestBytes = try image.reader.document(image.manifestDescriptor)
        try await client.putManifest(
            manifestBytes, mediaType: OCI.MediaType.manifest, reference: reference.tag ?? exported.image.description)

        var referrers = [String]()
        let subject = OCI.Descriptor(
            mediaType: OCI.MediaType.manifest, digest: exported.image, size: manifestBytes.count)
        for stored in try store.envelopes(about: release) {
            let digest = try await client.pushReferrer(
                subject: subject, artifactType: OCI.MediaType.dsseEnvelope, payload: stored.envelope.jsonBytes(),
                payloadMediaType: OCI.MediaType.dsseEnvelope,
                annotations: [
                    OCI.Annotation.predicateType: stored.predicateType, OCI.Annotation.release: release.description,
                ])
            referrers.append(digest.description)
        }
        let pushed = "\(reference.registry)/\(reference.repository)@\(exported.image)"
        try store.database.storeWrite { db in
            _ = try store.record(
                db, action: .ociPush, subject: release.description,
                details: [
                    "image": exported.image.description, "registry": reference.registry,
                    "repository": reference.repository, "tag": LedgerDetail.optional(reference.tag),
                    "uploaded": String(uploaded.count), "skipped": String(skipped.count),
                    "referrers": String(referrers.count),
                ])
        }
        return Report(
            release: release, image: exported.image, reference: pushed, uploaded: uploaded, skipped: skipped,
            referrers: referrers)
    }
}
