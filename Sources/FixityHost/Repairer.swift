import FixityCore
import FixityLedger
import FixityStore
import Foundation
import Glibc

/// What `repair` did.
package struct RepairOutcome: Sendable, Encodable {
    package let root: String
    package let deployment: Digest
    /// Nil when the tree was already clean.
    package let evidence: String?
    package let restored: [String]
    package let removed: [String]
    package let modesReset: [String]
    /// Paths that could not be repaired, each with why; the rest of the tree was still repaired.
    package var failed: [String] = []
    package let clean: Bool

    enum CodingKeys: String, CodingKey {
        case root, deployment, evidence, restored, removed, modesReset = "modes_reset", failed, clean
    }
}

/// Undoes drift on a root without losing it: every modified and added file is first copied into
/// an evidence folder in the store (with its path, digest, stat data and the time), made durable;
/// only then is each drifted path restored from the store — files written to a temporary name in
/// their folder and renamed over, added paths removed, removed ones recreated, modes reset. All
/// writes go through directory descriptors opened with O_NOFOLLOW, so a symlink planted in the
/// live tree is replaced, never followed.
package struct Repairer {
    package let store: Store
    package let root: DeployRoot

    package init(store: Store, root: DeployRoot) {
        self.store = store
        self.root = root
    }

    /// `only`: repair just these paths, leaving the rest of the drift as found (an access
    /// window reverts what it changed, not what had drifted before it opened).
    package func repair(full: Bool, lockTimeout: Double, only: Set<String>? = nil) throws -> RepairOutcome {
        let lock = try root.lock(timeout: lockTimeout, purpose: "repair")
        defer { withExtendedLifetime(lock) {} }
        let scanner = DriftScanner(store: store, root: root)
        let whole = try scanner.scan(full: full)
        let state = RootState(store: store, root: root)
        try state.recordDrift(whole)
        let found =
            only.map { paths in
                VerifyOutcome(
                    root: whole.root, deployment: whole.deployment, release: whole.release, config: whole.config,
                    full: whole.full, report: whole.report.restricted(to: paths), entriesChecked: whole.entriesChecked,
                    filesHashed: whole.filesHashed, ignored: whole.ignored, notes: whole.notes)
            } ?? whole
        guard !found.clean else {
            return RepairOutcome(
                root: root.path, deployment: found.deployment, evidence: nil, restored: [], removed: [], modesReset: [],
                clean: true)
        }

        let (_, manifest, ignore) = try scanner.activeTree()
        let treePath = root.treePath(found.deployment)
        let treeFD = try Posix.open(treePath, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        defer { Posix.close(treeFD) }

        let evidence = try Evidence.collect(found, treeFD: treeFD, store: store, rootKey: root.key)

        let r = found.report
        var removed = [String]()
        var restored = [String]()
        var modes = [String]()
        var newStats = [String: FileStat]()
        // 1. Remove what must go, deepest first: added paths, and whatever replaced an entry's type.
        // A path that cannot be repaired (swapped under us, too deep) is reported and skipped:
        // one hostile corner of the tree must not keep a real hot-fix elsewhere in place.
        // Paths that could not be read (permission denied, a folder too wide to list) are left
        // as they are — reported after the final scan if they still cannot be read (a mode reset
        // may have been all they needed); the rest of the tree is still repaired.
        var failed = [String]()
        func attempt(_ path: String, _ step: () throws -> Void) {
            do { try step() } catch {
                failed.append("\(path): \((error as? StoreError)?.message ?? "\(error)")")
            }
        }
        let added = Set(r.added)
        for path in (r.added + r.typeChanged).sorted(by: { EntryPath.precedes($1, $0) }) {
            attempt(path) {
                let (parent, name) = try openParent(treeFD, path, treePath: treePath)
                defer { Posix.close(parent) }
                try Posix.removeTree(parent, name, display: "\(treePath)/\(path)")
                if added.contains(path) { removed.append(path) }
            }
        }
        // 2. Recreate, parents first: removed entries, retyped ones, modified files and links.
        let recreate = Set(r.removed + r.typeChanged + r.modified)
        for entry in manifest.entries where recreate.contains(entry.path) {
            attempt(entry.path) {
                let (parent, name) = try openParent(treeFD, entry.path, treePath: treePath)
                defer { Posix.close(parent) }
                if let stat = try restore(entry, parent: parent, name: name, display: "\(treePath)/\(entry.path)") {
                    newStats[entry.path] = stat
                }
                restored.append(entry.path)
            }
        }
        // 3. Modes.
        for entry in manifest.entries where r.modeChanged.contains(entry.path) && !recreate.contains(entry.path) {
            attempt(entry.path) {
                let (parent, name) = try openParent(treeFD, entry.path, treePath: treePath)
                defer { Posix.close(parent) }
                // Through a descriptor of the inode found there: a name swapped for a symlink
                // after the scan can never redirect the chmod outside the tree.
                guard
                    let after = try Posix.chmodEntry(
                        parent, name, mode: entry.mode, display: "\(treePath)/\(entry.path)")
                else { return }
                if after.isRegularFile { newStats[entry.path] = after }
                modes.append(entry.path)
            }
        }
        try Posix.syncfs(treeFD, display: treePath)
        try StatSnapshot.update(
            for: found.deployment, in: root, manifest: manifest, ignore: ignore, repaired: newStats, gone: Set(removed))
        _ = try store.database.storeWrite { db in
            try store.record(
                db, action: .repair, subject: found.deployment.description,
                details: [
                    "root": root.key, "evidence": evidence, "restored": String(restored.count),
                    "removed": String(removed.count),
                    "modes_reset": String(modes.count), "failed": String(failed.count),
                ])
        }
        let after = try scanner.scan(full: true)
        try state.recordDrift(after)
        let afterAsked = only.map { after.report.restricted(to: $0) } ?? after.report
        failed += afterAsked.unreadable.map { "\($0): could not be read, not repaired" }
        var outcome = RepairOutcome(
            root: root.path, deployment: found.deployment, evidence: evidence, restored: restored, removed: removed,
            modesReset: modes, clean: afterAsked.clean)
        outcome.failed = failed
        return outcome
    }

    /// Writes one manifest entry at `name` in `parent` atomically; returns a file's new stat.
    private func restore(_ entry: ManifestEntry, parent: Int32, name: String, display: String) throws -> FileStat? {
        let temp = ".fixity-repair-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        switch entry.kind {
        case .directory:
            if mkdirat(parent, name, 0o700) != 0 && errno != EEXIST { throw StoreError.system("mkdir", path: display) }
            // Opened without following, so a symlink raced in at this name is refused, not used.
            let folder = try Posix.openDirectory(parent, name, display: display)
            defer { Posix.close(folder) }
            if fchmod(folder, entry.mode) != 0 { throw StoreError.system("chmod", path: display) }
            return nil
        case .symlink(let target):
            if symlinkat(target, parent, temp) != 0 { throw StoreError.system("symlink", path: display) }
            try Posix.renameat(parent, temp, parent, name, display: display)
            return nil
        case .file(_, let digest):
            let fd = try Posix.openat(
                parent, temp, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, display: display)
            do {
                let buffer = IOBuffer.allocate()
                defer { buffer.deallocate() }
                _ = try store.streamObject(digest, buffer: buffer) { try Posix.writeAll(fd, $0, display: display) }
                if fchmod(fd, entry.mode) != 0 { throw StoreError.system("chmod", path: display) }
                try Posix.fsync(fd, display: display)
                let stat = try Posix.fstat(fd, display: display)
                Posix.close(fd)
                try Posix.renameat(parent, temp, parent, name, display: display)
                // rename changes the inode's ctime on some file systems: take the stat after it.
                return try Posix.lstatat(parent, name, display: display) ?? stat
            } catch {
                Posix.close(fd)
                _ = unlinkat(parent, temp, 0)
                throw error
            }
        }
    }

    /// Opens the folder holding `path` one component at a time with O_NOFOLLOW: a component that
    /// is not a real folder stops the repair instead of redirecting it.
    private func openParent(_ treeFD: Int32, _ path: String, treePath: String) throws -> (Int32, String) {
        var components = path.split(separator: "/").map(String.init)
        let name = components.removeLast()
        var current = Glibc.dup(treeFD)
        var walked = treePath
        for component in components {
            walked += "/" + component
            let next = Glibc.openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let saved = errno
            Posix.close(current)
            guard next >= 0 else { throw StoreError.system("open folder", path: walked, errno: saved) }
            current = next
        }
        return (current, name)
    }
}
