import FixityCore
import Foundation
import Synchronization

/// A clock that moves only when a test moves it.
package final class ManualClock: WallClock {
    private let current: Mutex<Date>

    package init(_ start: Date) {
        current = Mutex(start)
    }

    /// A clock at an RFC 3339 instant (`2026-12-04T03:00:00Z`); traps on a malformed one.
    package convenience init(_ rfc3339: String) {
        guard let instant = Instant(rfc3339: rfc3339) else { preconditionFailure("not an RFC 3339 time: \(rfc3339)") }
        self.init(instant.date)
    }

    package func now() -> Date { current.withLock { $0 } }

    package func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}
