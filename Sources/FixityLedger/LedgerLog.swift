import FixityCore
import Foundation

/// The ledger as a protocol: an append-only log of `LedgerEntry`s whose leaves form an RFC 6962
/// Merkle tree (docs/ledger.md). One protocol, several homes — SQLite beside a store today
/// (`SQLiteLedger`), PostgreSQL for server replicas next — and one conformance suite
/// (`FixityTesting.LedgerConformance`) that every implementation must pass.
///
/// Contract, for every implementation:
/// - `append` gives entries dense sequence numbers from 0, in the order they commit, however
///   many handles (processes, replicas) append at once: the tree never forks, never skips.
/// - `root(size:)`, `inclusionProof` and `consistencyProof` are RFC 6962's MTH and proofs over
///   the leaves `SHA-256(0x00 || canonicalBytes)` of entries `0..<size`.
/// - `verify` recomputes every leaf and subtree from the entries themselves and reports the first
///   entry that does not match what the log stored (an edited, swapped or deleted entry).
/// - `signCheckpoint` signs the log's size and root as they are now (a signed note,
///   docs/ledger.md), keeps it and remembers the key, which `checkpointKeys` then lists.
/// - `inclusionProofDocument` is the self-contained proof of docs/ledger.md, refused for an entry
///   that no longer matches its stored leaf.
package protocol LedgerLog: Sendable {
    @discardableResult
    func append(action: LedgerAction, subject: String, details: [String: String], at time: Date) throws
        -> LedgerEntry
    func size() throws -> Int
    func entry(seq: Int64) throws -> LedgerEntry?
    /// Every entry with one of these actions, in sequence order.
    func entries(actions: Set<LedgerAction>) throws -> [LedgerEntry]
    func root(size: Int) throws -> Merkle.Hash
    func inclusionProof(seq: Int64, size: Int) throws -> [Merkle.Hash]
    func consistencyProof(from oldSize: Int, to newSize: Int) throws -> [Merkle.Hash]
    func verify() throws -> Ledger.Verification
    func signCheckpoint(key: SigningKey, at time: Date) throws -> String
    func checkpointKeys() throws -> [PublicKey]
    /// `size` nil: the tree of the whole log now.
    func inclusionProofDocument(seq: Int64, size: Int?) throws -> InclusionProof
}
