import Foundation

/// Where "now" comes from for everything Fixity records: ledger entry times, `added_at` and
/// `created_at` columns, `state --at now`, and (with the server) key expiry. Injected, so a test
/// can record an entry at 03:00 and ask what ran at 03:30 without sleeping, and a key can expire
/// without waiting. Durations (timeouts, elapsed times) use the monotonic `ContinuousClock`
/// instead: a wall clock stepped by NTP must not cut a health check short.
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The system's real-time clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}
