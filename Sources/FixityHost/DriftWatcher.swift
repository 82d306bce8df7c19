import CFixitySys
import FixityCore
import FixityLedger
import FixityStore
import Foundation
import Glibc

/// `fixity watch`: inotify on every folder of the active tree (new folders included, and the
/// root itself so a deploy's switch is followed), debounced; after each burst of events a fast
/// verify, and an event (`WatchEvent`) whenever the drift state changes. With `repair`, drift is
/// healed as soon as it is seen. A full verify runs every `interval` seconds to catch what inotify
/// cannot see (writes through another mount, a missed overflow). Without inotify, or past the
/// kernel's watch limit, it falls back to a fast verify every `pollInterval` seconds and says so.
/// Stops cleanly on SIGINT or SIGTERM.
package final class DriftWatcher {
    package struct Options: Sendable {
        package var repair = false
        package var interval: Double = 300
        package var pollInterval: Double = 2
        package var debounce: Double = 0.02
        /// Asked at each drift when `repair` is off: an agent's answer follows the policy in
        /// force (`drift = "repair"`), which may change while the watch runs.
        package var repairWhen: (@Sendable () -> Bool)?
        package init() {}
    }

    let store: Store
    let root: DeployRoot
    let options: Options
    /// Receives every event; a throw stops the watch with that error.
    let emit: (WatchEvent) throws -> Void
    private var inotifyFD: Int32 = -1
    private var watches: [Int32: String] = [:]
    private var rootWatch: Int32 = -1
    private var watchedDeployment: Digest?
    private var lastState: String?
    private var polling = false
    /// The active deployment's manifest, ignore rules and snapshot, loaded once per deployment.
    private var context: DriftScanner.Context?
    /// The last whole picture, which incremental checks update.
    private var lastReport: DriftReport?
    /// Paths inotify named since the last check, and whether only a whole walk will do.
    private var touched = Set<String>()
    private var needWholeScan = false

    package init(store: Store, root: DeployRoot, options: Options, emit: @escaping (WatchEvent) throws -> Void) {
        self.store = store
        self.root = root
        self.options = options
        self.emit = emit
    }

    deinit { if inotifyFD >= 0 { close(inotifyFD) } }

    package func run() throws {
        fixity_install_stop_handlers()
        inotifyFD = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if inotifyFD < 0 {
            try emit(.notice(.inotifyUnavailable(String(cString: strerror(errno)), pollInterval: options.pollInterval)))
            polling = true
        }
        try rewatch()
        try check(full: true, cause: .start)
        var nextFull = now() + options.interval
        var nextPoll = now() + options.pollInterval
        var pending: Double?
        while fixity_stop_requested() == 0 {
            let deadline = min(nextFull, pending ?? .infinity, polling ? nextPoll : .infinity)
            let waitMs = Int32(max(0, min(200, (deadline - now()) * 1000)))
            if !polling, try waitForEvents(timeoutMs: waitMs) {
                if pending == nil { pending = now() + options.debounce }
            } else if polling || waitMs > 0 {
                if polling { usleep(UInt32(waitMs) * 1000) }
            }
            if fixity_stop_requested() != 0 { break }
            if let due = pending, now() >= due {
                pending = nil
                if try root.activeDeployment() != watchedDeployment {
                    try rewatch()
                    needWholeScan = true
                }
                if needWholeScan || touched.count > 1000 || lastReport == nil {
                    try check(full: false, cause: .inotify)
                } else {
                    try checkTouched()
                }
                touched.removeAll()
                needWholeScan = false
            }
            if polling, now() >= nextPoll {
                nextPoll = now() + options.pollInterval
                try check(full: false, cause: .poll)
            }
            if now() >= nextFull {
                nextFull = now() + options.interval
                try check(full: true, cause: .interval)
            }
        }
        try emit(.notice(.stopping))
    }

    /// Re-checks only what inotify named (and what is below it), merged into the last whole
    /// picture: the write-to-line latency then no longer grows with the size of the tree.
    private func checkTouched() throws {
        guard let context, let lastReport else { return try check(full: false, cause: .inotify) }
        let scanner = DriftScanner(store: store, root: root)
        let paths = Array(touched)
        let (part, checked, hashed) = try scanner.scanSubtrees(paths, context: context)
        let report = lastReport.replacing(subtrees: paths, with: part)
        let record = context.record
        let outcome = VerifyOutcome(
            root: root.path, deployment: record.deployment, release: record.release, config: record.config, full: false,
            report: report, entriesChecked: checked, filesHashed: hashed, ignored: 0, notes: [])
        try handle(outcome, cause: .inotify)
    }

    /// Verifies, reports a changed drift state, repairs when asked.
    private func check(full: Bool, cause: WatchCause) throws {
        guard let active = try root.activeDeployment() else { return }
        let scanner = DriftScanner(store: store, root: root)
        if context?.record.deployment != active { context = try scanner.context() }
        try handle(try scanner.scan(full: full, context: context), cause: cause)
    }

    private func handle(_ outcome: VerifyOutcome, cause: WatchCause) throws {
        let scanner = DriftScanner(store: store, root: root)
        lastReport = outcome.report
        let state = outcome.clean ? "clean" : outcome.report.stateDigest.description
        if state != lastState {
            lastState = state
            // Say it first, then record it durably: the line is what an alert waits for.
            try emit(.stateChanged(outcome, cause: cause, at: store.clock.now()))
            try RootState(store: store, root: root).recordDrift(outcome)
        }
        try emit(.checked(outcome, at: store.clock.now()))
        if !outcome.clean && (options.repair || options.repairWhen?() == true) {
            let repaired = try Repairer(store: store, root: root).repair(full: false, lockTimeout: 30)
            lastState = repaired.clean ? "clean" : lastState
            context = try scanner.context()  // repair rewrote the snapshot
            let after = try scanner.scan(full: false, context: context)
            lastReport = after.report
            try emit(.checked(after, at: store.clock.now()))
            try emit(.repaired(after: after, cause: cause, evidence: repaired.evidence, at: store.clock.now()))
            drainEvents()
        }
    }

    // MARK: inotify

    private static let mask =
        UInt32(
            IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
                | IN_DELETE_SELF
                | IN_MOVE_SELF) | UInt32(IN_DONT_FOLLOW)

    /// (Re)adds watches for the active tree and for the root (to follow switches of `current`).
    private func rewatch() throws {
        watchedDeployment = try root.activeDeployment()
        guard !polling else { return }
        for wd in watches.keys { inotify_rm_watch(inotifyFD, wd) }
        watches.removeAll()
        if rootWatch < 0 { rootWatch = inotify_add_watch(inotifyFD, root.path, Self.mask) }
        guard let active = watchedDeployment else { return }
        let top = root.treePath(active)
        try addWatch(top, relative: "")
        guard let treeFD = try? Posix.open(top, flags: O_RDONLY | O_DIRECTORY) else { return }
        defer { Posix.close(treeFD) }
        for entry in (try? TreeWalker(rootPath: top, strict: false).walk(rootFD: treeFD)) ?? []
        where entry.stat.isDirectory {
            if polling { return }
            try addWatch("\(top)/\(entry.path)", relative: entry.path)
        }
    }

    private func addWatch(_ path: String, relative: String) throws {
        let wd = inotify_add_watch(inotifyFD, path, Self.mask)
        if wd >= 0 {
            watches[wd] = relative
        } else if errno == ENOSPC {
            try emit(.notice(.watchLimitReached(pollInterval: options.pollInterval)))
            polling = true
        }
    }

    /// Waits for events; true when some arrived. New folders get watches at once, so a file
    /// created inside a new folder right after it is still seen.
    private func waitForEvents(timeoutMs: Int32) throws -> Bool {
        var descriptor = pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMs)
        guard ready > 0 else { return false }
        var sawAny = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(inotifyFD, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            sawAny = true
            var offset = 0
            while offset + 16 <= n {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw in
                    (
                        raw.load(fromByteOffset: offset, as: Int32.self),
                        raw.load(fromByteOffset: offset + 4, as: UInt32.self),
                        Int(raw.load(fromByteOffset: offset + 12, as: UInt32.self))
                    )
                }
                let nameBytes = buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }
                offset += 16 + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    try emit(.notice(.queueOverflowed))
                    needWholeScan = true
                }
                if wd == rootWatch {
                    needWholeScan = true
                } else if let folder = watches[wd] {
                    let name = String(validating: nameBytes, as: UTF8.self)
                    if let name, !name.isEmpty {
                        touched.insert(folder.isEmpty ? name : "\(folder)/\(name)")
                    } else if folder.isEmpty || name == nil {
                        needWholeScan = true
                    } else {
                        touched.insert(folder)
                    }
                }
                if mask & UInt32(IN_ISDIR) != 0 && mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0,
                    let parent = watches[wd],
                    let name = String(validating: nameBytes, as: UTF8.self), let active = watchedDeployment
                {
                    let relative = parent.isEmpty ? name : "\(parent)/\(name)"
                    try addWatch("\(root.treePath(active))/\(relative)", relative: relative)
                }
                if mask & UInt32(IN_IGNORED) != 0 { watches[wd] = nil }
            }
        }
        return sawAny
    }

    /// Our own repair writes generate events; drop them so they do not trigger a second check.
    private func drainEvents() {
        guard !polling else { return }
        _ = try? waitForEvents(timeoutMs: 0)
    }

    private func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
