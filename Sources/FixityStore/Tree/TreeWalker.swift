import FixityCore
import Glibc

/// One entry found by a walk, before its content is hashed.
public struct WalkedEntry: Sendable {
    /// Relative to the walked folder, `/`-separated.
    public let path: String
    public let stat: FileStat
    /// Set for symlinks only.
    public let target: String?
}

/// Walks a folder with `openat`/`readdir`/`fstatat`, never following a symlink, and returns its
/// entries in canonical manifest order (siblings sorted by name bytes, depth first).
///
/// Anything a release cannot hold is refused here, naming the path: special files, names that are
/// not UTF-8 or hold control characters, unreadable folders.
public struct TreeWalker {
    public let rootPath: String

    public init(rootPath: String) { self.rootPath = rootPath }

    /// Opens the walk's top folder. The top folder itself may be reached through a symlink (it is
    /// the operator's argument); nothing below it is.
    public func openRoot() throws -> Int32 {
        var st = stat()
        guard Glibc.fstatat(AT_FDCWD, rootPath, &st, 0) == 0 else {
            if errno == ENOENT { throw StoreError(.badInput, "\(rootPath): no such directory", path: rootPath, errno: errno) }
            throw StoreError.system("stat", path: rootPath, code: .badInput)
        }
        guard FileStat(st).isDirectory else {
            throw StoreError(.badInput, "\(rootPath): not a directory", path: rootPath)
        }
        return try Posix.open(rootPath, flags: O_RDONLY | O_DIRECTORY)
    }

    public func walk(rootFD: Int32) throws -> [WalkedEntry] {
        var entries = [WalkedEntry]()
        try walkDirectory(rootFD, prefix: "", into: &entries)
        return entries
    }

    private func walkDirectory(_ dirfd: Int32, prefix: String, into entries: inout [WalkedEntry]) throws {
        let displayDir = prefix.isEmpty ? rootPath : "\(rootPath)/\(prefix)"
        var names = [String]()
        for raw in try Posix.directoryNames(dirfd, display: displayDir) {
            guard let name = String(validating: raw, as: UTF8.self) else {
                let shown = prefix.isEmpty ? EntryPath.describe(bytes: raw) : prefix + "/" + EntryPath.describe(bytes: raw)
                throw StoreError(.badInput, "\(rootPath)/\(shown): file name is not valid UTF-8", path: "\(rootPath)/\(shown)")
            }
            names.append(name)
        }
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }

        for name in names {
            let path = prefix.isEmpty ? name : prefix + "/" + name
            let display = "\(rootPath)/\(path)"
            if let problem = EntryPath.problem(withName: name) ?? EntryPath.problem(with: path) {
                throw StoreError(.badInput, "\(rootPath)/\(EntryPath.describe(bytes: Array(path.utf8))): \(problem)", path: display)
            }
            guard let st = try Posix.lstatat(dirfd, name, display: display) else {
                throw StoreError(.badInput, "\(display): vanished while sealing", path: display)
            }
            if st.isRegularFile {
                entries.append(WalkedEntry(path: path, stat: st, target: nil))
            } else if st.isSymlink {
                let raw = try Posix.readlinkat(dirfd, name, display: display)
                guard let target = String(validating: raw, as: UTF8.self) else {
                    throw StoreError(.badInput, "\(display): symlink target is not valid UTF-8", path: display)
                }
                if let problem = EntryPath.problem(withTarget: target) {
                    throw StoreError(.badInput, "\(display): \(problem)", path: display)
                }
                entries.append(WalkedEntry(path: path, stat: st, target: target))
            } else if st.isDirectory {
                entries.append(WalkedEntry(path: path, stat: st, target: nil))
                let child: Int32
                do {
                    child = try Posix.openDirectory(dirfd, name, display: display)
                } catch let error as StoreError {
                    throw StoreError(.badInput, error.message, path: display, errno: error.errno)
                }
                defer { Posix.close(child) }
                try walkDirectory(child, prefix: path, into: &entries)
            } else {
                throw StoreError(.badInput, "\(display): \(st.typeDescription) cannot be sealed (only files, directories and symlinks)", path: display)
            }
        }
    }
}
