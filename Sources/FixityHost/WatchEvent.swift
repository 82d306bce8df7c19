import FixityCore
import Foundation

/// What `DriftWatcher` reports, as values: the CLI prints them as JSON lines and a Prometheus
/// textfile; an agent sends them to its server. Emitted in the order they happen; a change of
/// drift state is emitted before it is recorded in the ledger (the line is what an alert waits for).
package enum WatchEvent: Sendable {
    /// The drift state changed (clean to drifted, drifted to clean, or to a different drift).
    case stateChanged(VerifyOutcome, cause: WatchCause, at: Date)
    /// Drift was repaired as soon as it was seen; `after` is the tree once repaired.
    case repaired(after: VerifyOutcome, cause: WatchCause, evidence: String?, at: Date)
    /// A check finished, whatever it found (every check: what metrics follow).
    case checked(VerifyOutcome, at: Date)
    /// Something the operator should know about the watch itself.
    case notice(WatchNotice)
}

/// What made the watcher check.
package enum WatchCause: String, Sendable {
    case start, inotify, poll, interval
}

/// Conditions of the watch itself, not of the tree.
package enum WatchNotice: Sendable, Equatable, CustomStringConvertible {
    /// No inotify (the reason): a fast verify every `pollInterval` seconds instead.
    case inotifyUnavailable(String, pollInterval: Double)
    /// The kernel's watch limit was reached: polling from now on.
    case watchLimitReached(pollInterval: Double)
    /// The kernel dropped events: the next check walks the whole tree.
    case queueOverflowed
    /// SIGINT or SIGTERM arrived; the watch ends.
    case stopping

    package var description: String {
        switch self {
        case .inotifyUnavailable(let why, let interval):
            "inotify unavailable (\(why)): verifying every \(interval) s instead"
        case .watchLimitReached(let interval):
            "inotify watch limit reached (fs.inotify.max_user_watches): verifying every \(interval) s instead"
        case .queueOverflowed: "inotify queue overflowed: the next check walks the whole tree"
        case .stopping: "stopping on signal"
        }
    }
}
