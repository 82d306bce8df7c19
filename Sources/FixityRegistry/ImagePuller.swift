import FixityCore
import FixityHost
import FixityStore
import Foundation

/// Copies one image from a registry into a local OCI layout (every blob checked against its
/// digest as it lands), so `oci import REGISTRY/REPO@DIGEST` reuses the layout importer and its
/// validation unchanged.
public struct ImagePuller {
    public init() {}

    public func pull(_ reference: RegistryReference, into layout: String, insecure: Bool, credentials: RegistryCredentials?) throws {
        guard let digest = reference.digest else { throw OCIError("oci import from a registry needs REGISTRY/REPO@sha256:DIGEST: a tag can move") }
        let client = try RegistryClient(reference: reference, insecure: insecure, credentials: credentials)
        guard let (mediaType, bytes) = try client.manifest(digest.description) else {
            throw OCIError("registry \(reference.registry) has no manifest \(digest) in \(reference.repository)")
        }
        let type = mediaType.isEmpty ? OCI.MediaType.manifest : mediaType
        guard OCI.MediaType.manifests.contains(type) else {
            throw OCIError("\(digest.short) is a \(mediaType) (an index?): name one platform's image manifest by its digest")
        }
        let manifest = try OCI.decode(OCI.Manifest.self, bytes, what: "image manifest \(digest.short)")
        let writer = try LayoutWriter(path: layout)
        for descriptor in [manifest.config] + manifest.layers {
            let blobDigest = try descriptor.validDigest()
            // Layers can be large: fetched whole here (a streaming GET is future work), then verified.
            let body = try client.blob(blobDigest, maxBytes: 8 << 30)
            guard Int64(body.count) == descriptor.size else { throw OCIError("blob \(blobDigest.short) has \(body.count) bytes, its descriptor says \(descriptor.size)") }
            let blob = try writer.blobWriter()
            try blob.write(body)
            try blob.finish(as: blobDigest)
        }
        let descriptor = try writer.addBlob(bytes, mediaType: type)
        try writer.commit(index: OCI.Index(manifests: [descriptor]))
    }
}
