import Crypto

/// RFC 6962 / RFC 9162 Merkle tree hashing: leaf `SHA-256(0x00 || entry)`, node
/// `SHA-256(0x01 || left || right)`, the empty tree `SHA-256("")`; proofs generated from a source
/// of perfect-subtree hashes and verified with RFC 9162's algorithms (§2.1.3.2, §2.1.4.2).
public enum Merkle {
    public typealias Hash = [UInt8]

    public static func leafHash(_ entry: [UInt8]) -> Hash {
        var hasher = SHA256()
        hasher.update(data: [0])
        hasher.update(data: entry)
        return Array(hasher.finalize())
    }

    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        var hasher = SHA256()
        hasher.update(data: [1])
        hasher.update(data: left)
        hasher.update(data: right)
        return Array(hasher.finalize())
    }

    public static let emptyRoot: Hash = Array(SHA256.hash(data: [UInt8]()))

    /// The largest power of two strictly below `n` (n ≥ 2).
    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH of leaf hashes held in memory (tests, small trees, bundles).
    public static func root(of leaves: ArraySlice<Hash>) -> Hash {
        switch leaves.count {
        case 0: return emptyRoot
        case 1: return leaves.first!
        default:
            let k = split(leaves.count)
            return nodeHash(root(of: leaves.prefix(k)), root(of: leaves.dropFirst(k)))
        }
    }

    // MARK: Verification (RFC 9162)

    /// True when `proof` proves `leaf` is at `index` in the tree of `size` with `root`.
    public static func verifyInclusion(leaf: Hash, index: Int, size: Int, proof: [Hash], root: Hash) -> Bool {
        guard index >= 0, index < size, leaf.count == 32, root.count == 32, proof.allSatisfy({ $0.count == 32 }) else {
            return false
        }
        var fn = index
        var sn = size - 1
        var r = leaf
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// True when `proof` proves the tree of `oldSize` with `oldRoot` is a prefix of the tree of
    /// `newSize` with `newRoot`.
    public static func verifyConsistency(oldSize: Int, newSize: Int, oldRoot: Hash, newRoot: Hash, proof: [Hash])
        -> Bool
    {
        guard oldSize >= 0, oldSize <= newSize, oldRoot.count == 32, newRoot.count == 32,
            proof.allSatisfy({ $0.count == 32 })
        else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty && oldRoot == emptyRoot }
        guard !proof.isEmpty else { return false }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }
}

/// Where proofs get their hashes: the hash of the perfect subtree of `2^level` leaves starting at
/// leaf `index << level` (level 0: leaf hashes). The ledger keeps these in SQLite.
public protocol MerkleNodeSource {
    func perfectSubtree(level: Int, index: Int) throws -> Merkle.Hash
}

/// RFC 6962 MTH, PATH and PROOF over a node source, in O(log² n) lookups.
public struct MerkleProver<Source: MerkleNodeSource> {
    public let source: Source

    public init(source: Source) { self.source = source }

    /// MTH of leaves `[start, start + count)`.
    public func hash(start: Int, count: Int) throws -> Merkle.Hash {
        if count == 0 { return Merkle.emptyRoot }
        if count & (count - 1) == 0 && start % count == 0 {
            return try source.perfectSubtree(level: count.trailingZeroBitCount, index: start / count)
        }
        let k = Merkle.split(count)
        return Merkle.nodeHash(try hash(start: start, count: k), try hash(start: start + k, count: count - k))
    }

    public func root(size: Int) throws -> Merkle.Hash { try hash(start: 0, count: size) }

    /// PATH(index, D[size]), deepest sibling first.
    public func inclusionProof(index: Int, size: Int) throws -> [Merkle.Hash] {
        precondition(index >= 0 && index < size)
        return try path(index, start: 0, count: size)
    }

    private func path(_ m: Int, start: Int, count: Int) throws -> [Merkle.Hash] {
        if count <= 1 { return [] }
        let k = Merkle.split(count)
        if m < k { return try path(m, start: start, count: k) + [hash(start: start + k, count: count - k)] }
        return try path(m - k, start: start + k, count: count - k) + [hash(start: start, count: k)]
    }

    /// PROOF(oldSize, D[newSize]) (empty when oldSize is 0 or equals newSize).
    public func consistencyProof(oldSize: Int, newSize: Int) throws -> [Merkle.Hash] {
        precondition(oldSize >= 0 && oldSize <= newSize)
        if oldSize == 0 || oldSize == newSize { return [] }
        return try subproof(oldSize, start: 0, count: newSize, complete: true)
    }

    private func subproof(_ m: Int, start: Int, count: Int, complete: Bool) throws -> [Merkle.Hash] {
        if m == count { return complete ? [] : [try hash(start: start, count: count)] }
        let k = Merkle.split(count)
        if m <= k {
            return try subproof(m, start: start, count: k, complete: complete) + [
                hash(start: start + k, count: count - k)
            ]
        }
        return try subproof(m - k, start: start + k, count: count - k, complete: false) + [hash(start: start, count: k)]
    }
}

/// Leaf hashes in memory as a node source (tests, bundles, small trees).
public struct InMemoryMerkleNodes: MerkleNodeSource {
    public let leaves: [Merkle.Hash]
    public init(leaves: [Merkle.Hash]) { self.leaves = leaves }
    public func perfectSubtree(level: Int, index: Int) throws -> Merkle.Hash {
        let width = 1 << level
        return Merkle.root(of: leaves[(index * width)..<((index + 1) * width)])
    }
}
