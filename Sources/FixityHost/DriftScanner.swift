import CFixitySys
import FixityCore
import FixityStore
import Glibc

/// Compares the live tree under `ROOT/current` with its deployment's manifest.
///
/// Fast mode trusts the stat snapshot taken at materialization and re-hashes only files whose
/// inode, mode, size, mtime or ctime changed; full mode re-hashes every file on all cores. Both
/// walk the whole tree (added files and folders are found by the walk, not the snapshot).
package struct DriftScanner {
    package let store: Store
    package let root: DeployRoot

    package init(store: Store, root: DeployRoot) {
        self.store = store
        self.root = root
    }

    /// The active deployment's record and its combined manifest and ignore rules.
    package func activeTree() throws -> (record: RootDeployment, manifest: Manifest, ignore: IgnoreRules) {
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
    package struct Context: Sendable {
        package let record: RootDeployment
        package let manifest: Manifest
        package let ignore: IgnoreRules
        package let snapshot: Result<RecordedStats, SnapshotProblem>
    }

    /// `withSnapshot: false` for a full scan, which never consults it.
    package func context(withSnapshot: Bool = true) throws -> Context {
        let (record, manifest, ignore) = try activeTree()
        let snapshot =
            withSnapshot
            ? StatSnapshot.load(for: record.deployment, in: root).map { $0.recorded() }
            : .failure(SnapshotProblem(message: "not loaded"))
        return Context(record: record, manifest: manifest, ignore: ignore, snapshot: snapshot)
    }

    package func scan(full requestedFull: Bool, context given: Context? = nil, progress: WorkProgress? = nil) throws
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
    package func scanSubtrees(_ paths: [String], context: Context) throws -> (
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
}
