import FixityCore
import FixityOCI
import FixityStore
import FixityTrust
import Foundation

/// `oci verify REGISTRY/REPO@DIGEST --env ENV`: the image's signatures and attestations, found as
/// referrers, checked against an environment of the policy in force — without pulling a layer.
///
/// What it proves: the manifest is the one named by the digest; it declares (annotation
/// `dev.fixity.release`) the release it was exported from, and its config's last layer was made
/// by `fixity oci export` of that release; the envelopes are DSSE signatures over that release
/// by keys the policy trusts; and its last layer is byte for byte what exporting that release
/// gives (export is reproducible: computed from the release in this store, nothing pulled). A
/// release this store does not hold cannot be bound, and is not allowed.
package struct ImageVerifier: Sendable {
    package struct Report: Sendable, Encodable {
        package let image: Digest
        package let release: ReleaseID
        package let environment: String
        package let allowed: Bool
        package let missing: [String]
        package let signers: [KeyID]
        package let referrers: Int
        package let envelopes: Int
    }

    let store: Store

    package init(store: Store) { self.store = store }

    package func verify(_ reference: RegistryReference, env: String, insecure: Bool, credentials: RegistryCredentials?)
        async throws -> Report
    {
        guard let digest = reference.digest else {
            throw OCIError("oci verify needs REGISTRY/REPO@sha256:DIGEST: a tag can move")
        }
        return try await RegistryClient.session(reference, insecure: insecure, credentials: credentials) { client in
            try await verify(digest, with: client, env: env)
        }
    }

    private func verify(_ digest: Digest, with client: RegistryClient, env: String) async throws -> Report {
        let reference = client.reference
        guard let (mediaType, bytes) = try await client.manifest(digest.description) else {
            throw OCIError("registry \(reference.registry) has no manifest \(digest) in \(reference.repository)")
        }
        guard mediaType.isEmpty || OCI.MediaType.manifests.contains(mediaType) else {
            throw OCIError("\(digest.short) is a \(mediaType), not an image manifest")
        }
        let manifest = try OCI.decode(OCI.Manifest.self, bytes, what: "image manifest \(digest.short)")
        guard let named = manifest.annotations?[OCI.Annotation.release], let releaseDigest = Digest(parsing: named)
        else {
            throw OCIError(
                "image \(digest.short) does not say which release it is (no \(OCI.Annotation.release) annotation): not exported by Fixity"
            )
        }
        let release = ReleaseID(releaseDigest)
        let config = try OCI.decode(
            OCI.ImageConfig.self,
            try await client.blob(try manifest.config.validDigest(), maxBytes: RegistryClient.documentLimit),
            what: "image config")
        guard config.history?.last?.created_by == "fixity oci export \(release)",
            config.rootfs.diff_ids.count == manifest.layers.count
        else {
            throw OCIError(
                "image \(digest.short) names release \(release.short), but its config does not record a fixity export of it"
            )
        }
        // The annotation is the image's claim; its layer is its content. Export is reproducible,
        // so the release in this store gives the exact layer digest and diff_id an export of it
        // holds: an image whose layer is anything else is refused, whatever signs the release.
        var unbound: String?
        if (try? store.manifest(release)) != nil {
            guard let created = config.history?.last?.created, let instant = Instant(rfc3339: created) else {
                throw OCIError("image \(digest.short): its config has no creation time for the fixity export layer")
            }
            let expected = try ImageExporter(store: store).layerDigests(of: release, epoch: instant.seconds)
            guard manifest.layers.last?.digest == expected.digest.description,
                config.rootfs.diff_ids.last == expected.diffID.description
            else {
                throw OCIError(
                    "image \(digest.short) names release \(release.short), but its layer is not that release (an export of it has layer \(expected.digest.short), diff_id \(expected.diffID.short); the image has \(manifest.layers.last.map { String($0.digest.prefix(19)) } ?? "none")): refused"
                )
            }
        } else {
            unbound =
                "release \(release.short) is not in this store, so the image's layer cannot be checked against it (seal it here, or oci import the image)"
        }

        var envelopes = [DSSEEnvelope]()
        let referrers = try await client.referrers(of: digest)
        for referrer in referrers where referrer.artifactType == OCI.MediaType.dsseEnvelope {
            guard let (_, artifactBytes) = try await client.manifest(referrer.digest) else { continue }
            let artifact = try OCI.decode(
                OCI.Manifest.self, artifactBytes, what: "referrer \(referrer.digest.prefix(19))")
            // A referrer must refer to this image; one that says otherwise is ignored.
            guard artifact.subject?.digest == digest.description else { continue }
            for layer in artifact.layers where layer.mediaType == OCI.MediaType.dsseEnvelope {
                let payload = try await client.blob(try layer.validDigest(), maxBytes: RegistryClient.documentLimit)
                let envelope = try DSSEEnvelope(json: payload, source: "referrer \(referrer.digest.prefix(19))")
                let statement = try InTotoStatement(
                    payload: envelope.payloadBytes, source: "referrer \(referrer.digest.prefix(19))")
                if statement.names(release) { envelopes.append(envelope) }
            }
        }
        guard let policyRecord = try store.currentPolicy() else {
            throw OCIError("no policy in force in this store: fixity policy set FILE first")
        }
        let policy = try PolicyFile.parse(policyRecord.text, name: "in force (\(policyRecord.digest.short))")
        // "Known-good in staging" is host knowledge: what this store has seen, if it knows the release.
        let knownGood = (try? KnownGood.environments(store: store, release: release, config: nil)) ?? []
        let decision = policy.evaluate(
            env: env, app: Policy.Evidence(release: release, envelopes: envelopes, knownGoodIn: knownGood))
        let missing =
            (decision.governed ? decision.missing : ["the policy has no environment '\(env)'"])
            + (unbound.map { [$0] } ?? [])
        return Report(
            image: digest, release: release, environment: env,
            allowed: decision.allowed && decision.governed && unbound == nil, missing: missing,
            signers: decision.signers, referrers: referrers.count, envelopes: envelopes.count)
    }
}
