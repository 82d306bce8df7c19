import FixityCore
import FixityOCI
import FixityStore
import Foundation

/// Copies one image from a registry into a local OCI layout (every blob streamed to disk and
/// checked against its descriptor's size and digest as it lands), so
/// `oci import REGISTRY/REPO@DIGEST` reuses the layout importer and its validation unchanged.
package struct ImagePuller: Sendable {
    package init() {}

    package func pull(
        _ reference: RegistryReference, into layout: String, insecure: Bool, credentials: RegistryCredentials?
    ) async throws {
        guard let digest = reference.digest else {
            throw OCIError("oci import from a registry needs REGISTRY/REPO@sha256:DIGEST: a tag can move")
        }
        try await RegistryClient.session(reference, insecure: insecure, credentials: credentials) { client in
            try await pull(digest, with: client, into: layout)
        }
    }

    private func pull(_ digest: Digest, with client: RegistryClient, into layout: String) async throws {
        let reference = client.reference
        guard let (mediaType, bytes) = try await client.manifest(digest.description) else {
            throw OCIError("registry \(reference.registry) has no manifest \(digest) in \(reference.repository)")
        }
        let type = mediaType.isEmpty ? OCI.MediaType.manifest : mediaType
        guard OCI.MediaType.manifests.contains(type) else {
            throw OCIError(
                "\(digest.short) is a \(mediaType) (an index?): name one platform's image manifest by its digest")
        }
        let manifest = try OCI.decode(OCI.Manifest.self, bytes, what: "image manifest \(digest.short)")
        let writer = try LayoutWriter(path: layout)
        for descriptor in [manifest.config] + manifest.layers {
            let blobDigest = try descriptor.validDigest()
            // Streamed to the staging folder as it arrives, never more than the descriptor's
            // size; a blob that is short, long or wrong is unlinked with the staging folder.
            let blob = try writer.blobWriter()
            try await client.downloadBlob(blobDigest, size: descriptor.size) { try blob.write($0) }
            try blob.finish(as: blobDigest)
        }
        let descriptor = try writer.addBlob(bytes, mediaType: type)
        try writer.commit(index: OCI.Index(manifests: [descriptor]))
    }
}
