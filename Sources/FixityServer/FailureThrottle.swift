import Foundation
import Synchronization

/// Slows down an address that keeps failing authentication: after `allowed` failures within
/// `window` seconds it is answered 429 with Retry-After, doubling from 1 s up to `maximumBlock`
/// while failures continue. A success clears the address. Memory is bounded: the table is
/// pruned of stale addresses as it grows.
final class FailureThrottle: Sendable {
    private struct Record {
        var failures: Int
        var firstFailure: Double
        var blockedUntil: Double
    }

    let allowed: Int
    let window: Double
    let maximumBlock: Double
    private let now: @Sendable () -> Double
    private let records = Mutex<[String: Record]>([:])
    private static let pruneAt = 10_000

    init(
        allowed: Int = 5, window: Double = 60, maximumBlock: Double = 300,
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.allowed = allowed
        self.window = window
        self.maximumBlock = maximumBlock
        self.now = now
    }

    /// Seconds this address must still wait; nil when it may try.
    func retryAfter(_ address: String) -> Int? {
        let time = now()
        return records.withLock { records in
            guard let record = records[address], record.blockedUntil > time else { return nil }
            return max(1, Int((record.blockedUntil - time).rounded(.up)))
        }
    }

    func failed(_ address: String) {
        let time = now()
        records.withLock { records in
            if records.count >= Self.pruneAt {
                records = records.filter { time - $0.value.firstFailure < window || $0.value.blockedUntil > time }
            }
            var record = records[address] ?? Record(failures: 0, firstFailure: time, blockedUntil: 0)
            if time - record.firstFailure > window && record.blockedUntil <= time {
                record = Record(failures: 0, firstFailure: time, blockedUntil: 0)
            }
            record.failures += 1
            if record.failures > allowed {
                let block = min(maximumBlock, pow(2, Double(record.failures - allowed - 1)))
                record.blockedUntil = time + block
            }
            records[address] = record
        }
    }

    func succeeded(_ address: String) {
        records.withLock { _ = $0.removeValue(forKey: address) }
    }
}
