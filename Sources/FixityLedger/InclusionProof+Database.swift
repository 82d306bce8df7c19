import FixityCore
import GRDB

extension InclusionProof {
    /// The proof of entry `seq` in the tree of `size` entries (default: the whole ledger), read
    /// from the stored nodes; refuses an entry that no longer matches its stored leaf.
    package static func make(_ db: Database, seq: Int64, size: Int?) throws -> InclusionProof {
        let treeSize = try size ?? Ledger.size(db)
        guard seq >= 0, seq < treeSize, let entry = try Ledger.entry(db, seq: seq) else {
            throw LedgerError("no entry \(seq) in a tree of \(treeSize) entries")
        }
        let prover = Ledger.prover(db)
        let bytes = entry.canonicalBytes()
        let leaf = Merkle.leafHash(bytes)
        guard try Ledger.Nodes(db: db).perfectSubtree(level: 0, index: Int(seq)) == leaf else {
            throw LedgerError("entry \(seq) does not match its leaf: the ledger was edited (fixity log verify)")
        }
        return InclusionProof(
            leafIndex: Int(seq), treeSize: treeSize, leafHash: Hex.encode(leaf),
            rootHash: Hex.encode(try prover.root(size: treeSize)),
            auditPath: try prover.inclusionProof(index: Int(seq), size: treeSize).map(Hex.encode),
            entry: Base64.encode(bytes))
    }
}
