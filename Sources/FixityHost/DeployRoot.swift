import FixityCore
import FixityStore
import Glibc

/// A folder on a host where an app is deployed:
///
///     ROOT/current -> deployments/<deployment hex>    the active deployment (relative symlink)
///     ROOT/deployments/<deployment hex>/              materialized deployments
///     ROOT/deployments/.incoming-<hex>-<pid>/         a deployment being materialized
///     ROOT/deployments/.removing-<hex>-<pid>/         a deployment being removed
///
/// A folder named `deployments/<hex>` only ever appears by renaming a complete, verified,
/// durable tree into place, and only ever disappears by being renamed away before it is emptied,
/// so one that exists is always complete — whatever instant a deploy was killed at.
///     ROOT/.fixity/lock                               flock held by deploy and rollback
///     ROOT/.fixity/lock.owner                         "pid user command" of the holder
package final class DeployRoot: Sendable {
    package let path: String
    /// The realpath: the key of this root's state in the store.
    package let key: String
    let fd: Int32
    let deploymentsFD: Int32
    let stateFD: Int32

    /// Opens a root; `create` makes the folder (one level) when it does not exist yet, which
    /// deploy wants and status and rollback do not. The root, its `.fixity` and `deployments`
    /// must be this user's (or root's) and not writable by group or others (StrictModes), unless
    /// `allowShared`.
    package init(path: String, create: Bool = true, allowShared: Bool = false) throws {
        self.path = path
        var st = stat()
        if Glibc.fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) != 0 {
            guard errno == ENOENT else { throw StoreError.system("stat", path: path, code: .badInput) }
            guard create else { throw StoreError(.badInput, "root \(path) does not exist", path: path) }
            if Glibc.mkdir(path, 0o755) != 0 { throw StoreError.system("create root", path: path, code: .badInput) }
        } else if FileStat(st).isSymlink {
            throw StoreError(
                .badInput, "root \(path) is a symlink; give the real folder (Fixity never writes through symlinks)",
                path: path)
        } else if !FileStat(st).isDirectory {
            throw StoreError(.badInput, "root \(path) is a \(FileStat(st).typeDescription), not a folder", path: path)
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw StoreError(.badInput, "root \(path) is not writable by this user (uid \(geteuid()))", path: path)
        }
        let rootFD = try Posix.open(path, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        var opened = [rootFD]
        do {
            let override = allowShared ? nil : "--allow-shared-root"
            if !allowShared { try StrictModes.requireTrusted(rootFD, what: "root", display: path, override: override) }
            // Commands that only use a root (status, rollback, verify …) never make one out of
            // an ordinary folder: a root is a folder a deploy made.
            if !create, try Posix.lstatat(rootFD, ".fixity", display: "\(path)/.fixity") == nil {
                throw StoreError(
                    .badInput, "\(path) is not a Fixity root (it has no .fixity folder): deploy a release to it first",
                    path: path)
            }
            try Posix.mkdirat(rootFD, "deployments", mode: 0o755, display: "\(path)/deployments")
            try Posix.mkdirat(rootFD, ".fixity", mode: 0o700, display: "\(path)/.fixity")
            let deployments = try Posix.openDirectory(rootFD, "deployments", display: "\(path)/deployments")
            opened.append(deployments)
            let state = try Posix.openDirectory(rootFD, ".fixity", display: "\(path)/.fixity")
            opened.append(state)
            if !allowShared {
                try StrictModes.requireTrusted(
                    deployments, what: "root folder", display: "\(path)/deployments", override: override)
                try StrictModes.requireTrusted(
                    state, what: "root state folder", display: "\(path)/.fixity", override: override)
            }
        } catch {
            opened.forEach(Posix.close)
            throw error
        }
        fd = opened[0]
        deploymentsFD = opened[1]
        stateFD = opened[2]
        key = Self.realpath(path)
    }

    deinit {
        Posix.close(stateFD)
        Posix.close(deploymentsFD)
        Posix.close(fd)
    }

    /// Takes the root's exclusive lock, waiting up to `timeout`; the refusal names the holder.
    package func lock(timeout: Double, purpose: String) throws -> FileLock {
        let lockPath = "\(path)/.fixity/lock"
        let lock: FileLock
        do {
            lock = try FileLock(path: lockPath, kind: .exclusive, timeout: timeout, purpose: purpose)
        } catch let error as StoreError where error.code == .locked {
            let owner = (try? readSmallFile(stateFD, "lock.owner")) ?? "unknown"
            throw StoreError(
                .locked,
                "root \(path) is locked by \(owner.trimmingCharacters(in: [" ", "\n"])); \(purpose) gave up after \(Int(timeout)) s",
                path: lockPath)
        }
        let owner = "pid \(getpid()) (\(purpose))\n"
        if let ownerFD = try? Posix.openat(
            stateFD, "lock.owner", flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600,
            display: "\(path)/.fixity/lock.owner")
        {
            try? Posix.writeAll(ownerFD, Array(owner.utf8), display: "lock.owner")
            Posix.close(ownerFD)
        }
        return lock
    }

    /// The deployment `current` points at, nil when there is none.
    package func activeDeployment() throws -> Digest? {
        guard let st = try Posix.lstatat(fd, "current", display: "\(path)/current") else { return nil }
        guard st.isSymlink else {
            throw StoreError(
                .badInput, "\(path)/current is not a symlink; this root was not made by Fixity", path: "\(path)/current"
            )
        }
        let target = String(decoding: try Posix.readlinkat(fd, "current", display: "\(path)/current"), as: UTF8.self)
        guard target.hasPrefix("deployments/"), let digest = Digest(hex: target.dropFirst("deployments/".count)) else {
            throw StoreError(
                .badInput, "\(path)/current points at '\(target)', not at a Fixity deployment", path: "\(path)/current")
        }
        return digest
    }

    package func isMaterialized(_ deployment: Digest) -> Bool {
        (try? Posix.lstatat(deploymentsFD, deployment.hex, display: ""))??.isDirectory ?? false
    }

    package func treePath(_ deployment: Digest) -> String { "\(path)/deployments/\(deployment.hex)" }

    /// The absolute path of a deployment's tree: hooks run there and see the root as `key`.
    package func absoluteTreePath(_ deployment: Digest) -> String { "\(key)/deployments/\(deployment.hex)" }

    /// The tree of a materialized deployment, opened without following a symlink at its name.
    package func openTree(_ deployment: Digest) throws -> Int32 {
        try Posix.openDirectory(deploymentsFD, deployment.hex, display: "\(path)/deployments/\(deployment.hex)")
    }

    /// Writes `manifest` into `deployments/<hex>`: materialized under a temporary name, every
    /// byte verified, made durable, then renamed into place. A failure removes the partial tree.
    package func materialize(
        _ deployment: Digest, manifest: Manifest, ignore: IgnoreRules, store: Store, linkMode: LinkMode,
        immutable: Bool, progress: WorkProgress?,
        sourceVerification: SourceVerification = .stamped
    ) throws -> TreeMaterializer {
        let incoming = ".incoming-\(deployment.hex)-\(getpid())"
        let display = "\(path)/deployments/\(incoming)"
        try Posix.removeTree(deploymentsFD, incoming, display: display)
        if Glibc.mkdirat(deploymentsFD, incoming, 0o700) != 0 { throw StoreError.system("mkdir", path: display) }
        let materializer = TreeMaterializer(
            store: store, manifest: manifest, linkMode: linkMode, immutable: immutable, progress: progress,
            sourceVerification: sourceVerification)
        do {
            let incomingFD = try Posix.openDirectory(deploymentsFD, incoming, display: display)
            defer { Posix.close(incomingFD) }
            try materializer.write(into: incomingFD, display: display)
            // The top folder of a deployment is world-readable like any install prefix.
            if fchmod(incomingFD, 0o755) != 0 { throw StoreError.system("chmod", path: display) }
            try remove(deployment)
            // The stat snapshot for fast verify, taken of the final tree before anyone can use it.
            let stats = try StatSnapshot.statEntries(of: manifest, below: incomingFD, display: display)
            try StatSnapshot.write(deployment: deployment, manifest: manifest, ignore: ignore, stats: stats, in: self)
            if linkMode == .hardlink {
                // Those stats saw every link source's inode after all links were made: re-stamp
                // from them rather than stat each source a second time.
                try store.restampLinkSources(
                    materializer.verifiedLinkSources.map { ($0.key, $0.verified, stats[$0.entryIndex]) })
            }
            try Posix.renameat(deploymentsFD, incoming, deploymentsFD, deployment.hex, display: treePath(deployment))
            try Posix.fsync(deploymentsFD, display: "\(path)/deployments")
            if immutable { _ = Posix.setImmutable(deploymentsFD, deployment.hex) }
        } catch {
            try? Posix.removeTree(deploymentsFD, incoming, display: display)
            throw error
        }
        return materializer
    }

    /// Points `current` at a materialized deployment atomically: a new symlink under a temporary
    /// name, renamed over `current`, then the root folder fsynced. At no instant is `current`
    /// missing or pointing at something incomplete.
    package func activate(_ deployment: Digest) throws {
        let temp = ".current-\(getpid())"
        _ = unlinkat(fd, temp, 0)
        if symlinkat("deployments/\(deployment.hex)", fd, temp) != 0 {
            throw StoreError.system("symlink", path: "\(path)/\(temp)")
        }
        try Posix.renameat(fd, temp, fd, "current", display: "\(path)/current")
        try Posix.fsync(fd, display: path)
    }

    /// Removes `current` (a first deployment that failed its health check leaves no active one).
    package func deactivate() throws {
        try Posix.unlinkat(fd, "current", display: "\(path)/current")
        try Posix.fsync(fd, display: path)
    }

    /// Removes a materialized deployment: renamed out of its name first (durably), then emptied,
    /// so a kill halfway never leaves a partial tree under a deployment's name.
    package func remove(_ deployment: Digest) throws {
        guard isMaterialized(deployment) else { return }
        let doomed = ".removing-\(deployment.hex)-\(getpid())"
        try Posix.removeTree(deploymentsFD, doomed, display: "\(path)/deployments/\(doomed)")
        // An immutable folder (--immutable) cannot be renamed until the attribute is cleared.
        Posix.clearImmutable(deploymentsFD, deployment.hex)
        try Posix.renameat(deploymentsFD, deployment.hex, deploymentsFD, doomed, display: treePath(deployment))
        try Posix.fsync(deploymentsFD, display: "\(path)/deployments")
        StatSnapshot.remove(for: deployment, in: self)
        try Posix.removeTree(deploymentsFD, doomed, display: "\(path)/deployments/\(doomed)")
    }

    /// Leftovers of a deploy that died while materializing or removing.
    package func removeLeftovers() {
        guard let names = try? Posix.directoryNames(deploymentsFD, display: "\(path)/deployments") else { return }
        for raw in names {
            let name = String(decoding: raw, as: UTF8.self)
            if name.hasPrefix(".incoming-") || name.hasPrefix(".removing-") {
                try? Posix.removeTree(deploymentsFD, name, display: "\(path)/deployments/\(name)")
            }
        }
    }

    func readSmallFile(_ dirfd: Int32, _ name: String) throws -> String {
        let file = try Posix.openat(dirfd, name, flags: O_RDONLY | O_NOFOLLOW, display: name)
        defer { Posix.close(file) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        let n = try Posix.read(file, into: buffer, display: name)
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[0..<n]), as: UTF8.self)
    }

    /// The key a root's entries carry, for a root that may no longer exist (a historical query):
    /// its realpath when it exists, else the path made absolute.
    package static func key(forPath path: String) -> String {
        let resolved = realpath(path)
        if resolved != path || path.hasPrefix("/") { return resolved }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (cwd == "/" ? "" : cwd) + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    static func realpath(_ path: String) -> String {
        guard let resolved = Glibc.realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(decoding: UnsafeRawBufferPointer(start: resolved, count: strlen(resolved)), as: UTF8.self)
    }
}
