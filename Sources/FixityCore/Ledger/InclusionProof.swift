import Foundation

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
        case leafIndex = "leaf_index", treeSize = "tree_size", leafHash = "leaf_hash", rootHash = "root_hash",
            auditPath = "audit_path", entry
    }

    public init(leafIndex: Int, treeSize: Int, leafHash: String, rootHash: String, auditPath: [String], entry: String) {
        self.leafIndex = leafIndex
        self.treeSize = treeSize
        self.leafHash = leafHash
        self.rootHash = rootHash
        self.auditPath = auditPath
        self.entry = entry
    }

    /// Checks the proof with nothing but its own fields and `root`.
    public func verifies(against root: String) -> Bool {
        guard let bytes = Base64.decode(entry), Hex.encode(Merkle.leafHash(bytes)) == leafHash, rootHash == root,
            let rootBytes = Hex.decode(root), let path = Optional(auditPath.compactMap(Hex.decode)),
            path.count == auditPath.count
        else { return false }
        return Merkle.verifyInclusion(
            leaf: Merkle.leafHash(bytes), index: leafIndex, size: treeSize, proof: path, root: rootBytes)
    }
}
