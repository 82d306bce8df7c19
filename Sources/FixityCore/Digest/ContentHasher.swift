import Crypto

/// Incremental SHA-256 that yields a `Digest`, so layers above core need not import Crypto
/// (whose own `Digest` protocol would shadow ours).
public struct ContentHasher: Sendable {
    private var inner = SHA256()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        inner.update(bufferPointer: bytes)
    }

    public func finalize() -> Digest {
        Digest(inner.finalize())
    }
}
