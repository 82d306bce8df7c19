import FixityCore

/// What a holder of a signed checkpoint checks about a ledger, over any `LedgerLog`: that the
/// log verifies and is an append-only extension of the checkpoint (RFC 9162 §2.1.4 consistency).
/// The CLI's `log verify --checkpoint` and, later, a server's auditors ask this, not SQL.
package enum LedgerAuditor {
    package struct CheckpointCheck: Sendable, Equatable {
        package let consistent: Bool
        /// Why not, in one sentence; nil when consistent.
        package let problem: String?
    }

    /// Checks `log` (whose own verification is `verification`) against a checkpoint of `size`
    /// entries with tree root `root`.
    package static func check(
        _ log: any LedgerLog, verification: Ledger.Verification, againstCheckpointOf size: Int, root: Merkle.Hash
    ) throws -> CheckpointCheck {
        if size > verification.size {
            return CheckpointCheck(
                consistent: false,
                problem:
                    "the checkpoint is for \(size) entries but the ledger has \(verification.size): entries were removed (truncated)"
            )
        }
        guard verification.ok else {
            return CheckpointCheck(consistent: false, problem: "the ledger itself does not verify")
        }
        let proof = try log.consistencyProof(from: size, to: verification.size)
        let consistent = Merkle.verifyConsistency(
            oldSize: size, newSize: verification.size, oldRoot: root, newRoot: try log.root(size: verification.size),
            proof: proof)
        return CheckpointCheck(
            consistent: consistent,
            problem: consistent
                ? nil
                : "the ledger is not an extension of the checkpoint (size \(size)): history before it was rewritten")
    }
}
