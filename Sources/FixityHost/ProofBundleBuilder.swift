import FixityCore
import FixityLedger
import FixityStore
import GRDB

/// Gathers a release's proof bundle from the store: what `fixity prove REF --out FILE` writes.
package struct ProofBundleBuilder {
    let store: Store

    package init(store: Store) { self.store = store }

    /// The bundle against the newest stored checkpoint, which must cover every entry about the
    /// release (an entry the checkpoint does not cover cannot be proved to its holder).
    package func build(release: ReleaseID) throws -> ProofBundle {
        let manifest = try store.manifest(release)
        return try store.database.storeRead { db in
            let id = release.description
            // The exact stored text: its SHA-256 is what the sign/attest entry recorded.
            let envelopes = try store.envelopeTexts(db, about: release)
            let deploys = try History.entries(db, actions: [.deploy]).filter { $0.details["release"] == id }
            let deployments = Set(deploys.map(\.subject))
            var entries = try History.entries(db, actions: [.seal, .tag, .sign, .attest, .adopt], subject: id)
            entries += deploys
            // Every switch to or away from its deployments, their health results and deactivations.
            entries += try History.entries(db, actions: [.activate, .rollback, .health, .deactivate]).filter {
                ProofBundle.isAbout($0, release: id, deployments: deployments)
            }
            entries.sort { $0.seq < $1.seq }
            let needed = Int((entries.last?.seq ?? -1) + 1)
            guard let checkpoint = try Ledger.newestCheckpoint(db, covering: needed) else {
                guard let newest = try Ledger.checkpoints(db).last else {
                    throw LedgerError(
                        "no checkpoint has been signed: run `fixity log checkpoint --key KEYFILE` (or give --key here) first"
                    )
                }
                throw LedgerError(
                    "the newest checkpoint (size \(newest.size)) does not cover entry \(needed - 1) about \(release.short): sign a new one with --key KEYFILE (or fixity log checkpoint)"
                )
            }
            let items = try entries.map {
                ProofBundle.Item(entry: $0, inclusion: try InclusionProof.make(db, seq: $0.seq, size: checkpoint.size))
            }
            return ProofBundle(
                release: release, manifest: manifest.bytes, envelopes: envelopes, entries: items,
                checkpoint: checkpoint.note)
        }
    }
}
