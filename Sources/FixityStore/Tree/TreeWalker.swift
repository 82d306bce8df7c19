import FixityCore
import Glibc

/// One entry found by a walk, before its content is hashed.
public struct WalkedEntry: Sendable {
    /// Relative to the walked folder, `/`-separated. For a name that is not valid UTF-8 (only in
    /// a lenient walk) the invalid bytes are shown as `\xNN`.
    public let path: String
    public let stat: FileStat
    /// Set for symlinks only.
    public let target: String?
    /// Set in a lenient walk for what a release cannot hold: a special file, a bad name, an
    /// unreadable folder (whose contents are then not listed).
    public let problem: String?

    public init(path: String, stat: FileStat, target: String?, problem: String? = nil) {
        self.path = path
        self.stat = stat
        self.target = target
        self.problem = problem
    }
}

/// Walks a folder with `openat`/`readdir`/`fstatat`, never following a symlink, and returns its
/// entries in canonical manifest order (siblings sorted by name bytes, depth first).
///
/// Strict (sealing): anything a release cannot hold is refused here, naming the path: special
/// files, names that are not UTF-8 or hold control characters, unreadable folders. Lenient
/// (checking a live tree for drift): such entries are returned with `problem` set instead, so
/// they are reported, never a crash.
public struct TreeWalker {
    public let rootPath: String
    public let strict: Bool
    /// The deepest folder level walked. The walk holds one descriptor per level, so this bounds
    /// them (a writable folder can nest thousands of levels to exhaust them); a deeper folder is
    /// refused when sealing and reported as a problem when checking, and the rest of the tree is
    /// still walked.
    public static let maxDepth = 200
    /// The most entries one folder may hold and still be listed (FIXITY_MAX_FOLDER_ENTRIES,
    /// default 1,000,000): a fuller folder is refused when sealing and, when checking, reported
    /// as one that cannot be read, so the rest of the tree is still checked and repaired.
    public static let maxWidth: Int = {
        if let text = getenv("FIXITY_MAX_FOLDER_ENTRIES"), let value = Int(String(cString: text)), value > 0 { return value }
        return 1_000_000
    }()

    public init(rootPath: String, strict: Bool = true) {
        self.rootPath = rootPath
        self.strict = strict
    }

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
        if try walkDirectory(rootFD, prefix: "", depth: 1, into: &entries) {
            throw StoreError(.badInput, "\(rootPath): more than \(Self.maxWidth) entries in one folder", path: rootPath)
        }
        return entries
    }

    /// Walks one folder; true (nothing listed) when it holds more than `maxWidth` entries.
    private func walkDirectory(_ dirfd: Int32, prefix: String, depth: Int, into entries: inout [WalkedEntry]) throws -> Bool {
        var displayDir: String { prefix.isEmpty ? rootPath : "\(rootPath)/\(prefix)" }
        var names = [(name: String, raw: [UInt8], valid: Bool)]()
        let listing = try Posix.directoryNames(dirfd, display: displayDir, limit: Self.maxWidth)
        if listing.truncated {
            if strict { throw StoreError(.badInput, "\(displayDir): more than \(Self.maxWidth) entries in one folder", path: displayDir) }
            return true
        }
        for raw in listing.names {
            if let name = String(validating: raw, as: UTF8.self) {
                names.append((name, raw, true))
            } else {
                names.append((EntryPath.describe(bytes: raw), raw, false))
            }
        }
        names.sort { $0.raw.lexicographicallyPrecedes($1.raw) }

        for (name, raw, valid) in names {
            let path = prefix.isEmpty ? name : prefix + "/" + name
            // Built only for a message: this loop runs once per entry of the tree.
            var display: String { "\(rootPath)/\(path)" }
            let nameProblem: String? =
                valid ? EntryPath.problem(withName: name) ?? EntryPath.problem(with: path) : "file name is not valid UTF-8"
            if let nameProblem {
                let shown = valid ? "\(rootPath)/\(EntryPath.describe(bytes: Array(path.utf8)))" : display
                if strict { throw StoreError(.badInput, "\(shown): \(nameProblem)", path: display) }
                let st = try Self.lstatRaw(dirfd, raw, display: display)
                entries.append(WalkedEntry(path: path, stat: st, target: nil, problem: nameProblem))
                continue
            }
            var rawStat = stat()
            if Glibc.fstatat(dirfd, name, &rawStat, AT_SYMLINK_NOFOLLOW) != 0 {
                guard errno == ENOENT else { throw StoreError.system("stat", path: display) }
                if strict { throw StoreError(.badInput, "\(display): vanished while sealing", path: display) }
                continue
            }
            let st = FileStat(rawStat)
            if st.isRegularFile {
                entries.append(WalkedEntry(path: path, stat: st, target: nil))
            } else if st.isSymlink {
                let rawTarget = try Posix.readlinkat(dirfd, name, display: display)
                let target = String(validating: rawTarget, as: UTF8.self)
                let problem = target.map { EntryPath.problem(withTarget: $0) } ?? "symlink target is not valid UTF-8"
                if let problem {
                    if strict { throw StoreError(.badInput, "\(display): \(problem)", path: display) }
                    entries.append(WalkedEntry(path: path, stat: st, target: EntryPath.describe(bytes: rawTarget), problem: problem))
                } else {
                    entries.append(WalkedEntry(path: path, stat: st, target: target))
                }
            } else if st.isDirectory && depth >= Self.maxDepth {
                let problem = "folder more than \(Self.maxDepth) levels deep: not walked further"
                if strict { throw StoreError(.badInput, "\(display): \(problem)", path: display) }
                entries.append(WalkedEntry(path: path, stat: st, target: nil, problem: problem))
            } else if st.isDirectory {
                let child: Int32
                do {
                    child = try Posix.openDirectory(dirfd, name, display: display)
                } catch let error as StoreError {
                    if strict { throw StoreError(.badInput, error.message, path: display, errno: error.errno) }
                    entries.append(WalkedEntry(path: path, stat: st, target: nil, problem: "cannot be read: \(error.message)"))
                    continue
                }
                let at = entries.count
                entries.append(WalkedEntry(path: path, stat: st, target: nil))
                defer { Posix.close(child) }
                if try walkDirectory(child, prefix: path, depth: depth + 1, into: &entries) {
                    entries[at] = WalkedEntry(path: path, stat: st, target: nil, problem: "cannot be read: more than \(Self.maxWidth) entries in one folder (too wide to check)")
                }
            } else {
                let problem = "\(st.typeDescription) cannot be sealed (only files, directories and symlinks)"
                if strict { throw StoreError(.badInput, "\(display): \(problem)", path: display) }
                entries.append(WalkedEntry(path: path, stat: st, target: nil, problem: problem))
            }
        }
        return false
    }

    private static func lstatRaw(_ dirfd: Int32, _ name: [UInt8], display: String) throws -> FileStat {
        var st = stat()
        let result = (name + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { Glibc.fstatat(dirfd, $0.baseAddress!, &st, AT_SYMLINK_NOFOLLOW) }
        }
        if result != 0 { throw StoreError.system("stat", path: display) }
        return FileStat(st)
    }
}
