import CFixitySys
import Dispatch
import FixityCore
import FixityStore
import Glibc
import Synchronization

/// What `verify` found, for humans, scripts and the ledger.
public struct VerifyOutcome: Sendable, Encodable {
    public let root: String
    public let deployment: Digest
    public let release: ReleaseID
    public let config: ReleaseID?
    public let full: Bool
    public let report: DriftReport
    public let entriesChecked: Int
    public let filesHashed: Int
    public let ignored: Int
    /// Why fast mode was not used, and other things worth saying.
    public let notes: [String]

    public var clean: Bool { report.clean }

    enum CodingKeys: String, CodingKey {
        case root, deployment, release, config, full, clean, modified, added, removed, modeChanged = "mode_changed"
        case typeChanged = "type_changed", unreadable, observed, entriesChecked = "entries_checked", filesHashed =
            "files_hashed", ignored, notes
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(root, forKey: .root)
        try c.encode(deployment, forKey: .deployment)
        try c.encode(release, forKey: .release)
        try c.encodeIfPresent(config, forKey: .config)
        try c.encode(full, forKey: .full)
        try c.encode(clean, forKey: .clean)
        try c.encode(report.modified, forKey: .modified)
        try c.encode(report.added, forKey: .added)
        try c.encode(report.removed, forKey: .removed)
        try c.encode(report.modeChanged, forKey: .modeChanged)
        try c.encode(report.typeChanged, forKey: .typeChanged)
        try c.encode(report.unreadable, forKey: .unreadable)
        // Per drifted path: what is there now (digest of a file's content, type, mode, link
        // target) and what the manifest said it was, where that differs.
        var observed = [String: [String: String]]()
        for (path, digest) in report.observed { observed[path, default: [:]]["digest"] = digest.description }
        for (path, state) in report.live {
            observed[path, default: [:]]["type"] = state.type
            if let mode = state.mode { observed[path, default: [:]]["mode"] = mode }
            if let target = state.target { observed[path, default: [:]]["target"] = target }
            if let was = state.was { observed[path, default: [:]]["was"] = was }
        }
        try c.encode(observed, forKey: .observed)
        try c.encode(entriesChecked, forKey: .entriesChecked)
        try c.encode(filesHashed, forKey: .filesHashed)
        try c.encode(ignored, forKey: .ignored)
        try c.encode(notes, forKey: .notes)
    }
}

/// Compares the live tree under `ROOT/current` with its deployment's manifest.
///
/// Fast mode trusts the stat snapshot taken at materialization and re-hashes only files whose
/// inode, mode, size, mtime or ctime changed; full mode re-hashes every file on all cores. Both
/// walk the whole tree (added files and folders are found by the walk, not the snapshot).
public struct DriftScanner {
    public let store: Store
    public let root: DeployRoot

    public init(store: Store, root: DeployRoot) {
        self.store = store
        self.root = root
    }

    /// The active deployment's record and its combined manifest and ignore rules.
    public func activeTree() throws -> (record: RootDeployment, manifest: Manifest, ignore: IgnoreRules) {
        guard let active = try root.activeDeployment() else {
            throw DeployError(
                "root \(root.path) has no active deployment (nothing was deployed here, or the first deploy failed)")
        }
        guard let record = try RootState(store: store, root: root).find(active) else {
            throw DeployError(
                "root \(root.path): the active deployment \(active.short) is not recorded in store \(store.path)")
        }
        let deployment = record.asDeployment
        let app = try store.manifest(deployment.release)
        let tree = try deployment.combinedManifest(
            app: app, config: try deployment.config.map { try store.manifest($0) })
        let settings = try DeploySettings.fromRelease(app, store: store)
        return (record, tree, settings.driftIgnore)
    }

    /// Everything a scan needs besides the live tree. A long-running watcher loads it once per
    /// deployment (and again after a repair rewrites the snapshot) instead of once per check.
    public struct Context: Sendable {
        public let record: RootDeployment
        public let manifest: Manifest
        public let ignore: IgnoreRules
        public let snapshot: Result<RecordedStats, SnapshotProblem>
    }

    /// `withSnapshot: false` for a full scan, which never consults it.
    public func context(withSnapshot: Bool = true) throws -> Context {
        let (record, manifest, ignore) = try activeTree()
        let snapshot =
            withSnapshot
            ? StatSnapshot.load(for: record.deployment, in: root).map { $0.recorded() }
            : .failure(SnapshotProblem(message: "not loaded"))
        return Context(record: record, manifest: manifest, ignore: ignore, snapshot: snapshot)
    }

    public func scan(full requestedFull: Bool, context given: Context? = nil, progress: WorkProgress? = nil) throws
        -> VerifyOutcome
    {
        if !requestedFull, given == nil, let proven = provenClean() { return proven }
        // Full mode: the stat snapshot names the files to hash, so hashing starts now, while the
        // manifest is read and decoded from the store. Results count only for files the verified
        // manifest lists and whose stat the walk then sees unchanged.
        let early = requestedFull && given == nil ? earlyPrehash(progress: progress) : nil
        let context = try given ?? context(withSnapshot: !requestedFull)
        let (record, manifest, ignore) = (context.record, context.manifest, context.ignore)
        var notes = [String]()
        var full = requestedFull
        var snapshot: RecordedStats?
        if !full {
            switch context.snapshot {
            case .success(let loaded): snapshot = loaded
            case .failure(let problem):
                notes.append("\(problem.message): verifying with --full")
                full = true
            }
        }

        let treePath = root.treePath(record.deployment)
        let walker = TreeWalker(rootPath: treePath, strict: false)
        let treeFD = try walker.openRoot()
        defer { Posix.close(treeFD) }
        // Full mode knows from the manifest which files to hash: start on the other threads now,
        // while this one walks; the walk then only confirms that what was hashed is what it saw.
        let prehash =
            full
            ? early
                ?? Prehash.start(
                    treeFD: treeFD,
                    paths: manifest.entries.filter { $0.digest != nil && !ignore.ignores($0.path) }.map(\.path),
                    progress: progress) : nil
        var live = try walker.walk(rootFD: treeFD)
        // The walk yields canonical order except around names that are not UTF-8 (shown escaped).
        if zip(live, live.dropFirst()).contains(where: { !EntryPath.precedes($0.path, $1.path) }) {
            live.sort { EntryPath.precedes($0.path, $1.path) }
        }

        var (report, ignored, hashed) = try compareTrees(
            expected: manifest.entries[...], live: live, treeFD: treeFD, ignore: ignore, full: full, snapshot: snapshot,
            notes: &notes, progress: progress, prehashed: prehash?.wait() ?? [:])
        report.unreadable.sort { EntryPath.precedes($0, $1) }
        return VerifyOutcome(
            root: root.path, deployment: record.deployment, release: record.release, config: record.config, full: full,
            report: report, entriesChecked: live.count, filesHashed: hashed, ignored: ignored, notes: notes)
    }

    /// Fast mode's shortcut for the common case: the stat snapshot proves the tree clean without
    /// the manifest being decoded. Nil whenever it cannot (no index, anything different), and the
    /// ordinary scan then runs and says what it found.
    private func provenClean() -> VerifyOutcome? {
        guard let active = try? root.activeDeployment(),
            let record = try? RootState(store: store, root: root).find(active),
            case .success(let index) = StatSnapshot.load(for: active, in: root),
            let treeFD = try? Posix.open(root.treePath(active), flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        else { return nil }
        defer { Posix.close(treeFD) }
        guard let proof = index.provesClean(treeFD: treeFD) else { return nil }
        return VerifyOutcome(
            root: root.path, deployment: active, release: record.release, config: record.config, full: false,
            report: DriftReport(),
            entriesChecked: proof.entriesChecked, filesHashed: 0, ignored: proof.ignored, notes: [])
    }

    /// Starts hashing the files the active deployment's stat snapshot lists, if it has a usable one.
    private func earlyPrehash(progress: WorkProgress?) -> Prehash? {
        guard let active = try? root.activeDeployment(),
            case .success(let index) = StatSnapshot.load(for: active, in: root),
            let treeFD = try? Posix.open(root.treePath(active), flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        else { return nil }
        return Prehash.start(treeFD: treeFD, paths: index.filePaths(), closingWhenDone: true, progress: progress)
    }

    /// Re-checks only the given paths and everything below them (fast mode), for a watcher that
    /// knows from inotify what changed. Returns a report covering exactly those subtrees; merge it
    /// into the last whole report with `DriftReport.replacing(subtrees:with:)`.
    public func scanSubtrees(_ paths: [String], context: Context) throws -> (
        report: DriftReport, checked: Int, hashed: Int
    ) {
        let tops = paths.sorted { EntryPath.precedes($0, $1) }.reduce(into: [String]()) { kept, path in
            if let last = kept.last, path.hasPrefix(last + "/") { return }
            kept.append(path)
        }
        let treePath = root.treePath(context.record.deployment)
        let treeFD = try Posix.open(treePath, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        defer { Posix.close(treeFD) }
        let snapshot = try? context.snapshot.get()
        var merged = DriftReport()
        var checked = 0
        var hashed = 0
        var notes = [String]()
        for top in tops {
            let expected = context.manifest.entries.filter { $0.path == top || $0.path.hasPrefix(top + "/") }
            var live = [WalkedEntry]()
            if let st = try? Posix.lstatat(treeFD, top, display: top) {
                if st.isDirectory, let fd = try? Posix.openDirectory(treeFD, top, display: top) {
                    defer { Posix.close(fd) }
                    live.append(WalkedEntry(path: top, stat: st, target: nil))
                    let below = try TreeWalker(rootPath: "\(treePath)/\(top)", strict: false).walk(rootFD: fd)
                    live += below.map {
                        WalkedEntry(path: top + "/" + $0.path, stat: $0.stat, target: $0.target, problem: $0.problem)
                    }
                } else {
                    let target =
                        st.isSymlink
                        ? (try? Posix.readlinkat(treeFD, top, display: top)).map { String(decoding: $0, as: UTF8.self) }
                        : nil
                    live.append(WalkedEntry(path: top, stat: st, target: target))
                }
            }
            live.sort { EntryPath.precedes($0.path, $1.path) }
            checked += live.count
            let (part, _, partHashed) = try compareTrees(
                expected: expected[...], live: live, treeFD: treeFD, ignore: context.ignore, full: snapshot == nil,
                snapshot: snapshot,
                notes: &notes, progress: nil)
            hashed += partHashed
            merged = merged.replacing(subtrees: [], with: part)
        }
        return (merged, checked, hashed)
    }

    /// The merge of expected entries and live ones (both in canonical order), then the hashing
    /// of files whose stat data does not vouch for them. Shared by whole-tree and subtree scans.
    /// Added files larger than this are reported without their digest.
    static let observedHashLimit: Int64 = 64 << 20

    private func compareTrees(
        expected: ArraySlice<ManifestEntry>, live: [WalkedEntry], treeFD: Int32, ignore: IgnoreRules, full: Bool,
        snapshot: RecordedStats?, notes: inout [String], progress: WorkProgress?,
        prehashed: [String: Prehash.Result] = [:]
    ) throws -> (DriftReport, ignored: Int, hashed: Int) {
        var report = DriftReport()
        var ignored = 0
        var hashJobs = [(path: String, expected: Digest, size: UInt64, stat: FileStat)]()
        var unreadableDirs = [String]()
        func underUnreadable(_ path: String) -> Bool {
            unreadableDirs.contains { path.hasPrefix($0 + "/") }
        }

        var i = expected.startIndex
        var j = 0
        while i < expected.endIndex || j < live.count {
            let takeExpected =
                j == live.count || (i < expected.endIndex && EntryPath.precedes(expected[i].path, live[j].path))
            let takeLive =
                i == expected.endIndex || (j < live.count && EntryPath.precedes(live[j].path, expected[i].path))
            if takeExpected {
                let entry = expected[i]
                i += 1
                if ignore.ignores(entry.path) { ignored += 1; continue }
                if underUnreadable(entry.path) { continue }
                report.removed.append(entry.path)
            } else if takeLive {
                let entry = live[j]
                j += 1
                if ignore.ignores(entry.path) { ignored += 1; continue }
                report.added.append(entry.path)
            } else {
                let want = expected[i]
                let have = live[j]
                i += 1
                j += 1
                if ignore.ignores(want.path) { ignored += 1; continue }
                if case .unreadableFolder? = have.problem {
                    report.unreadable.append(have.path)
                    unreadableDirs.append(have.path)
                    if !want.isDirectory { report.typeChanged.append(want.path) }
                    continue
                }
                compare(want, have, full: full, snapshot: snapshot, report: &report, hashJobs: &hashJobs)
            }
        }

        // Hash what needs it, on all cores; a file that cannot be read is reported as such.
        let results = SlotArray<LiveHash?>(repeating: nil, count: hashJobs.count)
        let jobs = hashJobs
        // With a prehash the counters already run (it hashed most of these); otherwise these are the work.
        if prehashed.isEmpty { progress?.setTotals(files: jobs.count, bytes: Int(jobs.reduce(0) { $0 + $1.size })) }
        try ParallelWork.run(count: jobs.count, makeContext: { WorkBuffer(worker: $0) }) {
            index, buffer in
            let job = jobs[index]
            if let early = prehashed[job.path], early.stat.sameContentSignature(as: job.stat) {
                results[index] = early.hash
            } else {
                results[index] = LiveHash.compute(
                    treeFD, job.path, walked: job.stat, buffer: buffer.raw, progress: progress)
            }
        }
        for (index, job) in jobs.enumerated() {
            switch results[index]! {
            case .digest(let digest):
                if digest != job.expected {
                    report.modified.append(job.path)
                    report.observed[job.path] = digest
                }
            case .unreadable:
                report.unreadable.append(job.path)
            case .changing:
                report.modified.append(job.path)
                notes.append("\(job.path) changed while being verified")
            }
        }
        let liveByPath =
            report.added.isEmpty ? [:] : Dictionary(live.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        for path in report.added {
            guard let entry = liveByPath[path] else { continue }
            report.live[path] = Self.liveState(entry, was: nil)
            // Hashed for the record up to a size: an added sparse terabyte must not cost a
            // terabyte of reading on every verify.
            if entry.stat.isRegularFile, entry.stat.size <= Self.observedHashLimit,
                case .digest(let digest) = LiveHash.compute(
                    treeFD, path, walked: entry.stat, buffer: nil, progress: nil)
            {
                report.observed[path] = digest
            }
        }
        report.modified.sort { EntryPath.precedes($0, $1) }
        return (report, ignored, hashJobs.count)
    }

    private func compare(
        _ want: ManifestEntry, _ have: WalkedEntry, full: Bool, snapshot: RecordedStats?, report: inout DriftReport,
        hashJobs: inout [(path: String, expected: Digest, size: UInt64, stat: FileStat)]
    ) {
        let stat = have.stat
        func note(was: String) { report.live[want.path] = Self.liveState(have, was: was) }
        switch want.kind {
        case .directory:
            guard stat.isDirectory else { note(was: want.typeName); return report.typeChanged.append(want.path) }
            if stat.permissions != want.mode { note(was: want.modeString); report.modeChanged.append(want.path) }
        case .symlink(let target):
            guard stat.isSymlink else { note(was: want.typeName); return report.typeChanged.append(want.path) }
            if !(have.target ?? "").utf8.elementsEqual(target.utf8) {
                note(was: "-> " + target); report.modified.append(want.path)
            }
        case .file(let size, let digest):
            guard stat.isRegularFile, have.problem == nil else {
                note(was: want.typeName); return report.typeChanged.append(want.path)
            }
            if stat.permissions != want.mode { note(was: want.modeString); report.modeChanged.append(want.path) }
            if !full, let snapshot, snapshot.unchanged(want.path, stat) { return }
            // Another size is another content: a large one is said without reading a byte (a
            // sparse terabyte written over a small file would otherwise cost a terabyte of
            // hashing); a small one is still hashed, so its digest tells drift states apart.
            if UInt64(max(0, stat.size)) != size && stat.size > Self.observedHashLimit {
                return report.modified.append(want.path)
            }
            hashJobs.append((want.path, digest, size, stat))
        }
    }
}

extension DriftScanner {
    /// What a live entry is, for the report (type, mode, link target), and what it `was`.
    static func liveState(_ entry: WalkedEntry, was: String?) -> DriftReport.LiveState {
        let stat = entry.stat
        let type =
            stat.isRegularFile
            ? "file" : stat.isDirectory ? "directory" : stat.isSymlink ? "symlink" : stat.typeDescription
        return DriftReport.LiveState(
            type: type, mode: stat.isSymlink ? nil : ManifestEntry.octalMode(stat.permissions), target: entry.target,
            was: was)
    }
}

/// Full-mode hashing started before the walk, from the manifest's list of files.
final class Prehash: @unchecked Sendable {
    struct Result: Sendable {
        /// The file's stat when it was hashed: the walk's must match for the result to count.
        let stat: FileStat
        let hash: LiveHash
    }

    private let paths: [String]
    private let results: SlotArray<Result?>
    private let done = DispatchSemaphore(value: 0)

    // @unchecked Sendable: `results` is written at distinct indices by the workers and read only
    // after `done` is signalled.
    private init(paths: [String]) {
        self.paths = paths
        results = SlotArray(repeating: nil, count: paths.count)
    }

    /// `closingWhenDone`: the descriptor is the prehash's own, closed once every file is hashed.
    /// `progress` counts what it hashes (a full verify spends most of its time here).
    static func start(treeFD: Int32, paths: [String], closingWhenDone: Bool = false, progress: WorkProgress? = nil)
        -> Prehash
    {
        let task = Prehash(paths: paths)
        progress?.setTotals(files: paths.count, bytes: 0)
        DispatchQueue.global().async {
            try? ParallelWork.run(count: task.paths.count, makeContext: { WorkBuffer(worker: $0) }) {
                index, buffer in
                if let (stat, hash) = LiveHash.hashUnwalked(
                    treeFD, task.paths[index], buffer: buffer.raw, progress: progress)
                {
                    task.results[index] = Result(stat: stat, hash: hash)
                }
            }
            if closingWhenDone { Posix.close(treeFD) }
            task.done.signal()
        }
        return task
    }

    func wait() -> [String: Result] {
        done.wait()
        var byPath = [String: Result](minimumCapacity: paths.count)
        for (index, path) in paths.enumerated() { if let result = results[index] { byPath[path] = result } }
        return byPath
    }
}

/// Hashing one live file, leniently: the tree under verification may be hostile or changing.
enum LiveHash: Sendable {
    case digest(Digest)
    case unreadable
    case changing

    static func compute(
        _ treeFD: Int32, _ path: String, walked: FileStat, buffer: UnsafeMutableRawBufferPointer?,
        progress: WorkProgress?
    ) -> LiveHash {
        let fd = Glibc.openat(treeFD, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return errno == EACCES || errno == EPERM ? .unreadable : .changing }
        defer { Glibc.close(fd) }
        guard let before = try? Posix.fstat(fd, display: path), before.isRegularFile, before.inode == walked.inode
        else { return .changing }
        return hashOpened(fd, before: before, path: path, buffer: buffer, progress: progress)
    }

    /// Opens and hashes a file that no walk has seen yet; nil when it is not a regular file (or
    /// cannot be opened). The stat returned is the one taken through the open descriptor.
    static func hashUnwalked(
        _ treeFD: Int32, _ path: String, buffer: UnsafeMutableRawBufferPointer, progress: WorkProgress? = nil
    ) -> (stat: FileStat, hash: LiveHash)? {
        // Beneath the tree with no symlink on the way: a folder swapped for a link to elsewhere
        // must not make verify read (and wait on) a file outside the tree.
        let fd = fixity_open_file_beneath(treeFD, path, O_RDONLY | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        guard let before = try? Posix.fstat(fd, display: path), before.isRegularFile else { return nil }
        return (before, hashOpened(fd, before: before, path: path, buffer: buffer, progress: progress))
    }

    /// Files from this size up are hashed from a mapping (no copy into a buffer).
    static let mappedFrom: Int64 = 1 << 20

    private static func hashOpened(
        _ fd: Int32, before: FileStat, path: String, buffer: UnsafeMutableRawBufferPointer?, progress: WorkProgress?
    ) -> LiveHash {
        if before.size >= Self.mappedFrom,
            let digest = Posix.mappedDigest(fd, size: Int(before.size), onChunk: { progress?.add(bytes: $0) })
        {
            progress?.add(files: 1, bytes: 0)
            guard let after = try? Posix.fstat(fd, display: path), after.sameContentSignature(as: before) else {
                return .changing
            }
            return .digest(digest)
        }
        let owned = buffer == nil ? IOBuffer.allocate() : nil
        defer { owned?.deallocate() }
        let chunk = buffer ?? owned!
        var hasher = ContentHasher()
        while true {
            let n = Glibc.read(fd, chunk.baseAddress!, chunk.count)
            if n < 0 {
                if errno == EINTR { continue }
                return errno == EACCES ? .unreadable : .changing
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            progress?.add(bytes: n)
        }
        progress?.add(files: 1, bytes: 0)
        guard let after = try? Posix.fstat(fd, display: path), after.sameContentSignature(as: before) else {
            return .changing
        }
        return .digest(hasher.finalize())
    }
}
