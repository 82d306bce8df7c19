/// The right edge of an RFC 6962 tree being rebuilt leaf by leaf: the perfect subtrees not yet
/// joined into a bigger one. O(log n) memory for a tree of any size — what a verifier keeps while
/// it streams a million entries and compares each subtree it completes with the stored one.
public struct MerkleFrontier: Sendable {
    /// A perfect subtree of 2^level leaves, the index-th of its level.
    public struct Subtree: Sendable, Equatable {
        public let level: Int
        public let index: Int
        public let hash: Merkle.Hash
    }

    private var subtrees: [(level: Int, hash: Merkle.Hash)] = []
    public private(set) var size = 0

    public init() {}

    /// Adds the next leaf (its leaf hash); returns the subtrees above level 0 it completes,
    /// lowest first.
    public mutating func add(leaf: Merkle.Hash) -> [Subtree] {
        var completed: [Subtree] = []
        var hash = leaf
        var level = 0
        var index = size
        while index & 1 == 1, let left = subtrees.last, left.level == level {
            subtrees.removeLast()
            hash = Merkle.nodeHash(left.hash, hash)
            index >>= 1
            level += 1
            completed.append(Subtree(level: level, index: index, hash: hash))
        }
        subtrees.append((level, hash))
        size += 1
        return completed
    }

    /// The root of the leaves added so far (RFC 6962 MTH: the subtrees folded right to left).
    public var root: Merkle.Hash {
        guard var folded = subtrees.last?.hash else { return Merkle.emptyRoot }
        for subtree in subtrees.dropLast().reversed() { folded = Merkle.nodeHash(subtree.hash, folded) }
        return folded
    }
}
