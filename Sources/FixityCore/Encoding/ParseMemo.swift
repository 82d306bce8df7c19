import Synchronization

/// The last few documents parsed, by the SHA-256 of their text: a long-running process checks
/// the same policy and the same `fixity.toml` every cycle, and a parse is both work and (through
/// TOMLKit, which never frees all it allocates) memory. Only successes are kept; a document that
/// failed is parsed again and fails again, saying why.
public final class ParseMemo<Value: Sendable>: Sendable {
    private let capacity: Int
    private let entries = Mutex<[(Digest, Value)]>([])

    public init(capacity: Int = 16) { self.capacity = capacity }

    public func value(for text: String, parse: () throws -> Value) rethrows -> Value {
        let key = Digest.of(Array(text.utf8))
        if let hit = entries.withLock({ $0.first { $0.0 == key }?.1 }) { return hit }
        let value = try parse()
        entries.withLock { entries in
            entries.removeAll { $0.0 == key }
            entries.append((key, value))
            if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
        }
        return value
    }
}
