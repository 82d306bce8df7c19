import CFixitySys
import FixityCore
import FixityLedger
import FixityStore
import Foundation
import Glibc

/// `fixity watch`: inotify on every folder of the active tree (new folders included, and the
/// root itself so a deploy's switch is followed), debounced; after each burst of events a fast
/// verify, and one JSON line on stdout whenever the drift state changes. With `repair`, drift is
/// healed as soon as it is seen. A full verify runs every `interval` seconds to catch what inotify
/// cannot see (writes through another mount, a missed overflow). Without inotify, or past the
/// kernel's watch limit, it falls back to a fast verify every `pollInterval` seconds and says so.
/// Stops cleanly on SIGINT or SIGTERM.
public final class DriftWatcher {
    public struct Options: Sendable {
        public var repair = false
        public var interval: Double = 300
        public var pollInterval: Double = 2
        public var debounce: Double = 0.02
        public var metricsFile: String?
        public init() {}
    }

    let store: Store
    let root: DeployRoot
    let options: Options
    let emit: (String) -> Void
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

    public init(store: Store, root: DeployRoot, options: Options, emit: @escaping (String) -> Void) {
        self.store = store
        self.root = root
        self.options = options
        self.emit = emit
    }

    deinit { if inotifyFD >= 0 { close(inotifyFD) } }

    public func run() throws {
        fixity_install_stop_handlers()
        inotifyFD = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if inotifyFD < 0 {
            note(
                "inotify unavailable (\(String(cString: strerror(errno)))): verifying every \(options.pollInterval) s instead"
            )
            polling = true
        }
        try rewatch()
        try check(full: true, cause: "start")
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
                    try check(full: false, cause: "inotify")
                } else {
                    try checkTouched()
                }
                touched.removeAll()
                needWholeScan = false
            }
            if polling, now() >= nextPoll {
                nextPoll = now() + options.pollInterval
                try check(full: false, cause: "poll")
            }
            if now() >= nextFull {
                nextFull = now() + options.interval
                try check(full: true, cause: "interval")
            }
        }
        note("stopping on signal")
    }

    /// Re-checks only what inotify named (and what is below it), merged into the last whole
    /// picture: the write-to-line latency then no longer grows with the size of the tree.
    private func checkTouched() throws {
        guard let context, let lastReport else { return try check(full: false, cause: "inotify") }
        let scanner = DriftScanner(store: store, root: root)
        let paths = Array(touched)
        let (part, checked, hashed) = try scanner.scanSubtrees(paths, context: context)
        let report = lastReport.replacing(subtrees: paths, with: part)
        let record = context.record
        let outcome = VerifyOutcome(
            root: root.path, deployment: record.deployment, release: record.release, config: record.config, full: false,
            report: report, entriesChecked: checked, filesHashed: hashed, ignored: 0, notes: [])
        try handle(outcome, cause: "inotify")
    }

    /// Verifies, reports a changed drift state, repairs when asked, updates the metrics file.
    private func check(full: Bool, cause: String) throws {
        guard let active = try root.activeDeployment() else { return }
        let scanner = DriftScanner(store: store, root: root)
        if context?.record.deployment != active { context = try scanner.context() }
        try handle(try scanner.scan(full: full, context: context), cause: cause)
    }

    private func handle(_ outcome: VerifyOutcome, cause: String) throws {
        let scanner = DriftScanner(store: store, root: root)
        lastReport = outcome.report
        let state = outcome.clean ? "clean" : outcome.report.stateDigest.description
        if state != lastState {
            lastState = state
            // Say it first, then record it durably: the line is what an alert waits for.
            emit(try line(event: outcome.clean ? "clean" : "drift", cause: cause, outcome: outcome, extra: [:]))
            try RootState(store: store, root: root).recordDrift(outcome)
        }
        try writeMetrics(outcome)
        if !outcome.clean && options.repair {
            let repaired = try Repairer(store: store, root: root).repair(full: false, lockTimeout: 30)
            lastState = repaired.clean ? "clean" : lastState
            context = try scanner.context()  // repair rewrote the snapshot
            let after = try scanner.scan(full: false, context: context)
            lastReport = after.report
            try writeMetrics(after)
            emit(
                try line(event: "repaired", cause: cause, outcome: after, extra: ["evidence": repaired.evidence ?? ""]))
            drainEvents()
        }
    }

    private func line(event: String, cause: String, outcome: VerifyOutcome, extra: [String: String]) throws -> String {
        let line = WatchLine(
            outcome: outcome,
            fields: extra.merging(["event": event, "cause": cause, "time": store.clock.timestamp()]) {
                _, fixed in fixed
            })
        return String(decoding: JSONStyle.compact.bytes(line), as: UTF8.self)
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
        addWatch(top, relative: "")
        guard let treeFD = try? Posix.open(top, flags: O_RDONLY | O_DIRECTORY) else { return }
        defer { Posix.close(treeFD) }
        for entry in (try? TreeWalker(rootPath: top, strict: false).walk(rootFD: treeFD)) ?? []
        where entry.stat.isDirectory {
            if polling { return }
            addWatch("\(top)/\(entry.path)", relative: entry.path)
        }
    }

    private func addWatch(_ path: String, relative: String) {
        let wd = inotify_add_watch(inotifyFD, path, Self.mask)
        if wd >= 0 {
            watches[wd] = relative
        } else if errno == ENOSPC {
            note(
                "inotify watch limit reached (fs.inotify.max_user_watches): verifying every \(options.pollInterval) s instead"
            )
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
                    note("inotify queue overflowed: the next check walks the whole tree")
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
                    addWatch("\(root.treePath(active))/\(relative)", relative: relative)
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

    // MARK: metrics

    /// Prometheus text format for node_exporter's textfile collector, written atomically.
    private func writeMetrics(_ outcome: VerifyOutcome) throws {
        guard let path = options.metricsFile else { return }
        let label =
            "root=\"\(root.key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
        let r = outcome.report
        let drifted = r.modified.count + r.added.count + r.removed.count + r.modeChanged.count + r.typeChanged.count
        let text = """
            # HELP fixity_drift 1 when the live tree differs from its deployment's manifest.
            # TYPE fixity_drift gauge
            fixity_drift{\(label)} \(outcome.clean ? 0 : 1)
            # HELP fixity_drift_paths Paths that differ from the manifest.
            # TYPE fixity_drift_paths gauge
            fixity_drift_paths{\(label)} \(drifted)
            # HELP fixity_last_verify_timestamp_seconds When the tree was last verified.
            # TYPE fixity_last_verify_timestamp_seconds gauge
            fixity_last_verify_timestamp_seconds{\(label)} \(String(format: "%.3f", store.clock.now().timeIntervalSince1970))
            # HELP fixity_files_checked Entries checked by the last verify.
            # TYPE fixity_files_checked gauge
            fixity_files_checked{\(label)} \(outcome.entriesChecked)

            """
        let temp = "\(path).tmp-\(getpid())"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temp))
        guard rename(temp, path) == 0 else { throw StoreError.system("rename", path: path) }
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("fixity watch: \(text)\n".utf8))
    }

    private func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// One line of `watch` output: the verify outcome's fields with the event's own beside them, in
/// one flat object (encoded in one pass: the outcome and the extra keys share a container).
private struct WatchLine: Encodable {
    let outcome: VerifyOutcome
    let fields: [String: String]

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        try outcome.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in fields { try container.encode(value, forKey: Key(stringValue: key)) }
    }
}
