import FixityCore
import Foundation
import GRDB

/// The JSON shape of DESIGN.md: leaf_index, tree_size, leaf_hash, root_hash, audit_path, entry.
public struct InclusionProof: Codable, Sendable {
    public let leafIndex: Int
    public let treeSize: Int
    public let leafHash: String
    public let rootHash: String
    public let auditPath: [String]
    /// Base64 of the entry's canonical bytes: leaf_hash = SHA-256(0x00 || entry).
    public let entry: String

    enum CodingKeys: String, CodingKey {
        case leafIndex = "leaf_index", treeSize = "tree_size", leafHash = "leaf_hash", rootHash = "root_hash", auditPath = "audit_path", entry
    }

    public static func make(_ db: Database, seq: Int64, size: Int?) throws -> InclusionProof {
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
            leafIndex: Int(seq), treeSize: treeSize, leafHash: Hex.encode(leaf), rootHash: Hex.encode(try prover.root(size: treeSize)),
            auditPath: try prover.inclusionProof(index: Int(seq), size: treeSize).map(Hex.encode), entry: Base64.encode(bytes))
    }

    /// Checks the proof with nothing but its own fields and `root`.
    public func verifies(against root: String) -> Bool {
        guard let bytes = Base64.decode(entry), Hex.encode(Merkle.leafHash(bytes)) == leafHash, rootHash == root,
            let rootBytes = Hex.decode(root), let path = Optional(auditPath.compactMap(Hex.decode)), path.count == auditPath.count
        else { return false }
        return Merkle.verifyInclusion(leaf: Merkle.leafHash(bytes), index: leafIndex, size: treeSize, proof: path, root: rootBytes)
    }
}
