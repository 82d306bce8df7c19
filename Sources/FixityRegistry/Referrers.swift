import FixityCore
import Foundation

/// OCI 1.1 referrers: artifacts whose `subject` is an image manifest. Pushed as manifests by
/// digest; found through the referrers API, or — on registries without it (CNCF Distribution 2.x)
/// — through the distribution spec's fallback, an image index tagged `sha256-<hex>` that the
/// pusher keeps up to date.
extension RegistryClient {
    /// The empty JSON object `{}`: the config of artifacts that need none (image-spec 1.1).
    static let emptyConfig: [UInt8] = Array("{}".utf8)

    /// Pushes `payload` as an artifact referring to `subject`; returns its manifest digest.
    @discardableResult
    package func pushReferrer(
        subject: OCI.Descriptor, artifactType: String, payload: [UInt8], payloadMediaType: String,
        annotations: [String: String]
    ) async throws -> Digest {
        let configDigest = Digest.of(Self.emptyConfig)
        try await pushBlob(configDigest, size: Self.emptyConfig.count) { _ in Self.emptyConfig }
        var sent = false
        let payloadDigest = Digest.of(payload)
        try await pushBlob(payloadDigest, size: payload.count) { _ in
            defer { sent = true }
            return sent ? [] : payload
        }
        let manifest = OCI.Manifest(
            config: OCI.Descriptor(mediaType: OCI.MediaType.empty, digest: configDigest, size: Self.emptyConfig.count),
            layers: [OCI.Descriptor(mediaType: payloadMediaType, digest: payloadDigest, size: payload.count)],
            annotations: annotations, artifactType: artifactType, subject: subject)
        let bytes = OCI.encode(manifest)
        let digest = Digest.of(bytes)
        let response = try await putManifest(bytes, mediaType: OCI.MediaType.manifest, reference: digest.description)
        // A registry with the referrers API says so with OCI-Subject; otherwise keep the fallback tag.
        if response.headers.first(name: "OCI-Subject") == nil {
            let descriptor = OCI.Descriptor(
                mediaType: OCI.MediaType.manifest, digest: digest, size: bytes.count, annotations: annotations,
                artifactType: artifactType)
            try await addToFallbackIndex(subject: try subject.validDigest(), descriptor)
        }
        return digest
    }

    /// The referrers of `subject`: the API's answer, else the fallback tag's index, else none.
    package func referrers(of subject: Digest) async throws -> [OCI.Descriptor] {
        let api = try await send(
            .GET, "\(repositoryPath)/referrers/\(subject)", headers: [("Accept", OCI.MediaType.index)],
            expect: [200, 404])
        if api.status == 200,
            let index = try? OCI.decode(OCI.Index.self, api.body, what: "referrers of \(subject.short)")
        {
            return index.manifests
        }
        guard let fallback = try await manifest(Self.fallbackTag(subject), accept: [OCI.MediaType.index]) else {
            return []
        }
        return try OCI.decode(OCI.Index.self, fallback.bytes, what: "referrers index \(Self.fallbackTag(subject))")
            .manifests
    }

    static func fallbackTag(_ subject: Digest) -> String { "sha256-\(subject.hex)" }

    private func addToFallbackIndex(subject: Digest, _ descriptor: OCI.Descriptor) async throws {
        var index = OCI.Index(manifests: [])
        if let existing = try await manifest(Self.fallbackTag(subject), accept: [OCI.MediaType.index]) {
            index = try OCI.decode(OCI.Index.self, existing.bytes, what: "referrers index \(Self.fallbackTag(subject))")
        }
        guard !index.manifests.contains(where: { $0.digest == descriptor.digest }) else { return }
        index.manifests.append(descriptor)
        try await putManifest(OCI.encode(index), mediaType: OCI.MediaType.index, reference: Self.fallbackTag(subject))
    }
}
