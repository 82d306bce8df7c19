import CFixitySys
import FixityCore
import Glibc

/// One entry found by a walk, before its content is hashed.
/// Why a lenient walk could not take an entry as it is.
package enum WalkProblem: Sendable, Equatable, CustomStringConvertible {
    /// A folder that could not be listed (permissions, more entries than a walk accepts): what it
    /// holds is unknown, so nothing below it is reported as added or removed.
    case unreadableFolder(String)
    /// What a release cannot hold: a special file, a bad name or symlink target, a folder too deep.
    case unsealable(String)

    package var description: String {
        switch self {
        case .unreadableFolder(let why): "cannot be read: \(why)"
        case .unsealable(let why): why
        }
    }
}

package struct WalkedEntry: Sendable {
    /// Relative to the walked folder, `/`-separated. For a name that is not valid UTF-8 (only in
    /// a lenient walk) the invalid bytes are shown as `\xNN`.
    package let path: String
    package let stat: FileStat
    /// Set for symlinks only.
    package let target: String?
    /// Set in a lenient walk for what a release cannot hold: a special file, a bad name, an
    /// unreadable folder (whose contents are then not listed).
    package let problem: WalkProblem?

    package init(path: String, stat: FileStat, target: String?, problem: WalkProblem? = nil) {
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
package struct TreeWalker: Sendable {
    package let rootPath: String
    package let strict: Bool
    /// The deepest folder level walked. The walk holds one descriptor per level, so this bounds
    /// them (a writable folder can nest thousands of levels to exhaust them); a deeper folder is
    /// refused when sealing and reported as a problem when checking, and the rest of the tree is
    /// still walked.
    package static let maxDepth = 200
    /// The most entries one folder may hold and still be listed (FIXITY_MAX_FOLDER_ENTRIES,
    /// default 1,000,000): a fuller folder is refused when sealing and, when checking, reported
    /// as one that cannot be read, so the rest of the tree is still checked and repaired.
    package static let maxWidth: Int = {
        if let text = getenv("FIXITY_MAX_FOLDER_ENTRIES"), let value = Int(String(cString: text)), value > 0 {
            return value
        }
        return 1_000_000
    }()

    package init(rootPath: String, strict: Bool = true) {
        self.rootPath = rootPath
        self.strict = strict
    }

    /// Opens the walk's top folder. The top folder itself may be reached through a symlink (it is
    /// the operator's argument); nothing below it is.
    package func openRoot() throws -> Int32 {
        var st = stat()
        guard Glibc.fstatat(AT_FDCWD, rootPath, &st, 0) == 0 else {
            if errno == ENOENT {
                throw StoreError(.badInput, "\(rootPath): no such directory", path: rootPath, errno: errno)
            }
            throw StoreError.system("stat", path: rootPath, code: .badInput)
        }
        guard FileStat(st).isDirectory else {
            throw StoreError(.badInput, "\(rootPath): not a directory", path: rootPath)
        }
        return try Posix.open(rootPath, flags: O_RDONLY | O_DIRECTORY)
    }

    /// The entries below `rootFD` in canonical order. Folders are listed on all cores, one level
    /// of the tree at a time (each opened beneath the top folder with no symlink on the way, as
    /// `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` does), then the listings are stitched
    /// together depth first. An error in a strict walk names the first path that failed.
    package func walk(rootFD: Int32) throws -> [WalkedEntry] {
        var listings = [Listing?]()
        /// Per folder: its path, depth, and the listing whose entry it is (parent, index).
        var folders: [(path: String, depth: Int, parent: Int, entry: Int)] = [("", 1, -1, -1)]
        var level = [0]
        while !level.isEmpty {
            let current = level
            let known = folders
            let results = SlotArray<Listing?>(repeating: nil, count: current.count)
            try ParallelWork.run(count: current.count, makeContext: { _ in () }) { slot, _ in
                let folder = known[current[slot]]
                results[slot] = try self.list(folder.path, depth: folder.depth, rootFD: rootFD)
            }
            listings += [Listing?](repeating: nil, count: folders.count - listings.count)
            level = []
            for (slot, index) in current.enumerated() {
                let listing = results[slot]!
                listings[index] = listing
                for (entryIndex, entry) in listing.entries.enumerated() where listing.descend[entryIndex] {
                    level.append(folders.count)
                    folders.append((entry.path, folders[index].depth + 1, index, entryIndex))
                }
            }
        }
        if listings[0]!.problem != nil {
            throw StoreError(.badInput, "\(rootPath): more than \(Self.maxWidth) entries in one folder", path: rootPath)
        }
        // Stitch depth first: each folder's entries, each subfolder's right after its own entry.
        var subfolder = [Int: Int]()  // (listing << 32 | entry) -> folder index
        for (index, folder) in folders.enumerated() where folder.parent >= 0 {
            subfolder[folder.parent << 32 | folder.entry] = index
        }
        var out = [WalkedEntry]()
        out.reserveCapacity(listings.reduce(0) { $0 + ($1?.entries.count ?? 0) })
        var stack = [(folder: 0, next: 0)]
        while let (folder, next) = stack.last {
            let listing = listings[folder]!
            guard next < listing.entries.count else {
                stack.removeLast()
                continue
            }
            stack[stack.count - 1].next = next + 1
            let entry = listing.entries[next]
            guard let sub = subfolder[folder << 32 | next] else {
                out.append(entry)
                continue
            }
            if let problem = listings[sub]!.problem {
                // Lenient only (a strict walk threw): the folder is reported, its contents not listed.
                out.append(WalkedEntry(path: entry.path, stat: entry.stat, target: nil, problem: problem))
                continue
            }
            out.append(entry)
            stack.append((sub, 0))
        }
        return out
    }

    /// One folder's entries (sorted by name bytes), which of them to descend into, and — lenient
    /// walks only — why the folder itself could not be listed.
    struct Listing {
        var entries: [WalkedEntry] = []
        var descend: [Bool] = []
        var problem: WalkProblem?
    }

    private func list(_ prefix: String, depth: Int, rootFD: Int32) throws -> Listing {
        var displayDir: String { prefix.isEmpty ? rootPath : "\(rootPath)/\(prefix)" }
        var listing = Listing()
        let dirfd: Int32
        if prefix.isEmpty {
            dirfd = rootFD
        } else {
            dirfd = fixity_open_beneath(rootFD, prefix)
            if dirfd < 0 {
                let error = StoreError.system("open", path: displayDir)
                if strict { throw StoreError(.badInput, error.message, path: displayDir, errno: error.errno) }
                listing.problem = .unreadableFolder(error.message)
                return listing
            }
        }
        defer { if dirfd != rootFD { Posix.close(dirfd) } }
        let names: [[UInt8]]
        do {
            let found = try Posix.directoryNames(dirfd, display: displayDir, limit: Self.maxWidth)
            if found.truncated {
                if strict {
                    throw StoreError(
                        .badInput, "\(displayDir): more than \(Self.maxWidth) entries in one folder", path: displayDir)
                }
                listing.problem = .unreadableFolder(
                    "more than \(Self.maxWidth) entries in one folder (too wide to check)")
                return listing
            }
            names = found.names.sorted { $0.lexicographicallyPrecedes($1) }
        } catch let error as StoreError where !strict && !prefix.isEmpty {
            listing.problem = .unreadableFolder(error.message)
            return listing
        }
        listing.entries.reserveCapacity(names.count)
        for raw in names {
            let valid = String(validating: raw, as: UTF8.self)
            let name = valid ?? EntryPath.describe(bytes: raw)
            let path = prefix.isEmpty ? name : prefix + "/" + name
            // Built only for a message: this loop runs once per entry of the tree.
            var display: String { "\(rootPath)/\(path)" }
            func add(_ entry: WalkedEntry, descend: Bool = false) {
                listing.entries.append(entry)
                listing.descend.append(descend)
            }
            let nameProblem: String? =
                valid != nil
                ? EntryPath.problem(withName: name) ?? EntryPath.problem(with: path) : "file name is not valid UTF-8"
            if let nameProblem {
                let shown = valid != nil ? "\(rootPath)/\(EntryPath.describe(bytes: Array(path.utf8)))" : display
                if strict { throw StoreError(.badInput, "\(shown): \(nameProblem)", path: display) }
                add(
                    WalkedEntry(
                        path: path, stat: try Self.lstatRaw(dirfd, raw, display: display), target: nil,
                        problem: .unsealable(nameProblem)))
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
                add(WalkedEntry(path: path, stat: st, target: nil))
            } else if st.isSymlink {
                let rawTarget = try Posix.readlinkat(dirfd, name, display: display)
                let target = String(validating: rawTarget, as: UTF8.self)
                let problem = target.map { EntryPath.problem(withTarget: $0) } ?? "symlink target is not valid UTF-8"
                if let problem {
                    if strict { throw StoreError(.badInput, "\(display): \(problem)", path: display) }
                    add(
                        WalkedEntry(
                            path: path, stat: st, target: EntryPath.describe(bytes: rawTarget),
                            problem: .unsealable(problem)))
                } else {
                    add(WalkedEntry(path: path, stat: st, target: target))
                }
            } else if st.isDirectory && depth >= Self.maxDepth {
                let problem = "folder more than \(Self.maxDepth) levels deep: not walked further"
                if strict { throw StoreError(.badInput, "\(display): \(problem)", path: display) }
                add(WalkedEntry(path: path, stat: st, target: nil, problem: .unsealable(problem)))
            } else if st.isDirectory {
                add(WalkedEntry(path: path, stat: st, target: nil), descend: true)
            } else {
                let problem = "\(st.typeDescription) cannot be sealed (only files, directories and symlinks)"
                if strict { throw StoreError(.badInput, "\(display): \(problem)", path: display) }
                add(WalkedEntry(path: path, stat: st, target: nil, problem: .unsealable(problem)))
            }
        }
        return listing
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
