import FixityApp
import FixityCore
import FixityStore
import FixityTrust

/// Signatures and attestations arriving at the server, verified before they are kept.
extension LocalControlPlane {
    /// Kept once `EnvelopeCheck` passes against the signed policy in force.
    func addEnvelope(_ bytes: [UInt8], about release: ReleaseID, keyID: String) async throws -> Bool {
        try await BlockingWork.run { [store] in
            try store.ensureSchema(ControlPlaneSchema.part)
            let signed = try store.database.storeRead { db in try Self.signedPolicy(db, store: store) }
            let policy = try signed.map { (try $0.policy(), $0.digest) }
            let (envelope, _) = try EnvelopeCheck.check(bytes, about: release, policy: policy)
            return try store.addEnvelope(envelope, about: release, source: "envelope about \(release.short)")
        }
    }

    func envelopes(about release: ReleaseID) async throws -> [DSSEEnvelope] {
        try await BlockingWork.run { [store] in try store.envelopes(about: release).map(\.envelope) }
    }
}
