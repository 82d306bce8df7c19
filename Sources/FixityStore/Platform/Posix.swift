import CFixitySys
import FixityCore
import Glibc

/// Thin wrappers over the system calls the store uses, each turning -1/errno into a `StoreError`
/// that names the path. Everything here works relative to directory descriptors and never follows
/// a symlink in the last component.
package enum Posix {
    package static func open(_ path: String, flags: Int32, mode: mode_t = 0) throws -> Int32 {
        try openat(AT_FDCWD, path, flags: flags, mode: mode, display: path)
    }

    package static func openat(_ dirfd: Int32, _ name: String, flags: Int32, mode: mode_t = 0, display: String) throws
        -> Int32
    {
        let fd = retryOnInterrupt { Glibc.openat(dirfd, name, flags | O_CLOEXEC, mode) }
        if fd < 0 { throw StoreError.system("open", path: display) }
        return fd
    }

    package static func openDirectory(_ dirfd: Int32, _ name: String, display: String) throws -> Int32 {
        try openat(dirfd, name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, display: display)
    }

    package static func fstat(_ fd: Int32, display: String) throws -> FileStat {
        var st = stat()
        if Glibc.fstat(fd, &st) != 0 { throw StoreError.system("stat", path: display) }
        return FileStat(st)
    }

    /// `lstat` relative to a directory; nil when the name does not exist.
    package static func lstatat(_ dirfd: Int32, _ name: String, display: String) throws -> FileStat? {
        var st = stat()
        if Glibc.fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT { return nil }
            throw StoreError.system("stat", path: display)
        }
        return FileStat(st)
    }

    package static func readlinkat(_ dirfd: Int32, _ name: String, display: String) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = buffer.withUnsafeMutableBytes {
            Glibc.readlinkat(dirfd, name, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
        }
        if count < 0 { throw StoreError.system("readlink", path: display) }
        return Array(buffer[0..<count])
    }

    /// Reads until `buffer` is full or end of file; returns the byte count.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, display: String) throws -> Int {
        var total = 0
        while total < buffer.count {
            let n = retryOnInterrupt { Glibc.read(fd, buffer.baseAddress! + total, buffer.count - total) }
            if n < 0 { throw StoreError.system("read", path: display) }
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// Reads `fd` to its end through `buffer`, hashing every byte and handing each chunk to
    /// `sink` (a copy, a progress counter); returns the digest and the byte count.
    package static func hashToEnd(
        _ fd: Int32, buffer: UnsafeMutableRawBufferPointer, display: String,
        sink: (UnsafeRawBufferPointer) throws -> Void = { _ in }
    ) throws -> (digest: Digest, size: UInt64) {
        var hasher = ContentHasher()
        var total: UInt64 = 0
        while true {
            let n = try read(fd, into: buffer, display: display)
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            hasher.update(chunk)
            try sink(chunk)
            total += UInt64(n)
        }
        return (hasher.finalize(), total)
    }

    /// The SHA-256 of a file hashed straight from a read-only mapping (no copy into a buffer);
    /// nil when it cannot be mapped. For large files, where the copy costs a tenth of the time.
    package static func mappedDigest(_ fd: Int32, size: Int, onChunk: (Int) -> Void = { _ in }) -> Digest? {
        guard size > 0, let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            return nil
        }
        defer { munmap(base, size) }
        _ = madvise(base, size, MADV_SEQUENTIAL)
        var hasher = ContentHasher()
        var offset = 0
        while offset < size {
            let length = min(8 << 20, size - offset)
            hasher.update(UnsafeRawBufferPointer(start: base + offset, count: length))
            onChunk(length)
            offset += length
        }
        return hasher.finalize()
    }

    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, display: String) throws {
        var done = 0
        while done < bytes.count {
            let n = retryOnInterrupt { Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done) }
            if n < 0 { throw StoreError.system("write", path: display) }
            done += n
        }
    }

    package static func writeAll(_ fd: Int32, _ bytes: [UInt8], display: String) throws {
        try bytes.withUnsafeBytes { raw in try writeAll(fd, raw, display: display) }
    }

    package static func fsync(_ fd: Int32, display: String) throws {
        if Glibc.fsync(fd) != 0 { throw StoreError.system("fsync", path: display) }
    }

    /// Makes every dirty page of the file system holding `fd` durable: one call for a whole batch
    /// of new objects instead of an fsync each.
    package static func syncfs(_ fd: Int32, display: String) throws {
        if fixity_syncfs(fd) != 0 { throw StoreError.system("syncfs", path: display) }
    }

    /// Asks the kernel to start writing a range of `fd` to disk now, without waiting. Advisory:
    /// durability still comes from `syncfs`; this only overlaps the disk with the CPU.
    package static func startWriteback(_ fd: Int32, offset: Int64 = 0, length: Int64 = 0) {
        _ = fixity_start_writeback(fd, offset, length)
    }

    package static func renameat(_ fromDir: Int32, _ from: String, _ toDir: Int32, _ to: String, display: String) throws
    {
        if Glibc.renameat(fromDir, from, toDir, to) != 0 { throw StoreError.system("rename", path: display) }
    }

    /// Creates a directory; an existing directory is success.
    package static func mkdirat(_ dirfd: Int32, _ name: String, mode: mode_t, display: String) throws {
        if Glibc.mkdirat(dirfd, name, mode) != 0 {
            if errno == EEXIST, let st = try lstatat(dirfd, name, display: display), st.isDirectory { return }
            throw StoreError.system("mkdir", path: display)
        }
    }

    package static func unlinkat(_ dirfd: Int32, _ name: String, directory: Bool = false, display: String) throws {
        if Glibc.unlinkat(dirfd, name, directory ? AT_REMOVEDIR : 0) != 0, errno != ENOENT {
            throw StoreError.system("remove", path: display)
        }
    }

    /// The names in a directory except `.` and `..`, as raw bytes (names need not be UTF-8).
    package static func directoryNames(_ dirfd: Int32, display: String) throws -> [[UInt8]] {
        try directoryNames(dirfd, display: display, limit: Int.max).names
    }

    /// At most `limit` names, and whether there were more (a folder someone filled with millions
    /// of entries must not cost their memory to look at).
    package static func directoryNames(_ dirfd: Int32, display: String, limit: Int) throws -> (
        names: [[UInt8]], truncated: Bool
    ) {
        // From the start, whatever read the descriptor before; getdents64 straight into a buffer
        // (fdopendir would cost a duplicate descriptor, an fstat and an fcntl per folder).
        if lseek(dirfd, 0, SEEK_SET) < 0 { throw StoreError.system("seek", path: display) }
        var names = [[UInt8]]()
        // Left uninitialized: filled by the kernel.
        var buffer = [UInt8](unsafeUninitializedCapacity: 32 << 10) { _, count in count = 32 << 10 }
        while true {
            let filled = buffer.withUnsafeMutableBytes { fixity_getdents64(dirfd, $0.baseAddress!, UInt($0.count)) }
            if filled < 0 {
                if errno == EINTR { continue }
                throw StoreError.system("readdir", path: display)
            }
            if filled == 0 { break }
            let truncated = buffer.withUnsafeBytes { raw -> Bool in
                var offset = 0
                while offset < filled {
                    let recordLength = Int(raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt16.self))
                    guard recordLength > 19 else { return false }
                    let name = (raw.baseAddress! + offset + 19).assumingMemoryBound(to: UInt8.self)
                    let length = strnlen(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self), recordLength - 19)
                    offset += recordLength
                    if (length == 1 && name[0] == 0x2e) || (length == 2 && name[0] == 0x2e && name[1] == 0x2e) {
                        continue
                    }
                    if names.count == limit { return true }
                    names.append(Array(UnsafeBufferPointer(start: name, count: length)))
                }
                return false
            }
            if truncated { return (names, true) }
        }
        return (names, false)
    }

    /// Removes a tree below `dirfd` without following symlinks, making read-only directories
    /// writable first (a materialized 0555 folder cannot otherwise be emptied).
    ///
    /// Race-safe against someone who can write inside the tree: each folder is opened with
    /// `O_NOFOLLOW` first and everything after — the chmod that makes it writable, the listing,
    /// the removals inside — goes through that descriptor, so swapping a folder for a symlink
    /// between a check and a use can at worst make the removal fail, never make it chmod or
    /// delete something outside. Names are handled as bytes (they need not be UTF-8).
    ///
    /// Descriptors stay bounded at any depth: below `maxRemovalDepth` levels, folders are renamed
    /// up next to the tree being removed (`.fixity-removing-…`) and removed from there in turn, so
    /// a chain of thousands of nested folders is removed with at most that many descriptors open.
    package static func removeTree(_ dirfd: Int32, _ name: String, display: String) throws {
        var hoisted = [[UInt8]]()
        try removeTree(dirfd, Array(name.utf8), display: display, depth: 1, hoistTo: dirfd, hoisted: &hoisted)
        while let next = hoisted.popLast() {
            try removeTree(dirfd, next, display: "\(display) (deep part)", depth: 1, hoistTo: dirfd, hoisted: &hoisted)
        }
    }

    /// Levels of folders removeTree descends before hoisting deeper ones (one descriptor each).
    package static let maxRemovalDepth = 64

    private static func removeTree(
        _ dirfd: Int32, _ name: [UInt8], display: String, depth: Int, hoistTo top: Int32, hoisted: inout [[UInt8]]
    ) throws {
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        var fd = cName.withUnsafeBufferPointer {
            Glibc.openat(dirfd, $0.baseAddress!, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        }
        if fd < 0 && errno == EACCES {
            // A folder we own but may not read (mode 0000): reach it by an O_PATH descriptor,
            // which names this inode and no other, and chmod it through /proc.
            fd = try reopenUnreadableFolder(dirfd, cName, display: display)
        }
        if fd < 0 {
            switch errno {
            case ENOENT: return
            case ENOTDIR, ELOOP:
                // Not a folder (a symlink is removed, never followed). Only files Fixity may have
                // made immutable are opened to clear it: opening anything else (a device) may act.
                var st = stat()
                let isFile =
                    cName.withUnsafeBufferPointer { Glibc.fstatat(dirfd, $0.baseAddress!, &st, AT_SYMLINK_NOFOLLOW) }
                    == 0 && st.st_mode & S_IFMT == S_IFREG
                let file =
                    isFile
                    ? cName.withUnsafeBufferPointer {
                        Glibc.openat(dirfd, $0.baseAddress!, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
                    } : -1
                if file >= 0 {
                    _ = fixity_set_immutable(file, 0)
                    Glibc.close(file)
                }
                try unlinkRaw(dirfd, name, directory: false, display: display)
                return
            default:
                throw StoreError.system("open", path: display)
            }
        }
        defer { Glibc.close(fd) }
        _ = fixity_set_immutable(fd, 0)
        var st = stat()
        if Glibc.fstat(fd, &st) == 0, st.st_mode & 0o700 != 0o700, st.st_uid == geteuid() {
            if Glibc.fchmod(fd, 0o700) != 0 { throw StoreError.system("chmod", path: display) }
        }
        for child in try directoryNames(fd, display: display) {
            if depth >= maxRemovalDepth {
                var childStat = stat()
                let isFolder =
                    (child + [0]).withUnsafeBufferPointer { buffer in
                        buffer.withMemoryRebound(to: CChar.self) {
                            Glibc.fstatat(fd, $0.baseAddress!, &childStat, AT_SYMLINK_NOFOLLOW)
                        }
                    } == 0 && childStat.st_mode & S_IFMT == S_IFDIR
                if isFolder {
                    let aside = Array(".fixity-removing-\(getpid())-\(UInt64.random(in: 0...UInt64.max))".utf8)
                    let moved = (child + [0]).withUnsafeBufferPointer { from in
                        (aside + [0]).withUnsafeBufferPointer { to in
                            from.withMemoryRebound(to: CChar.self) { f in
                                to.withMemoryRebound(to: CChar.self) { t in
                                    Glibc.renameat(fd, f.baseAddress!, top, t.baseAddress!)
                                }
                            }
                        }
                    }
                    if moved != 0 { throw StoreError.system("rename", path: display) }
                    hoisted.append(aside)
                    continue
                }
            }
            try removeTree(
                fd, child, display: depth < 8 ? display + "/" + String(decoding: child, as: UTF8.self) : display,
                depth: depth + 1, hoistTo: top, hoisted: &hoisted)
        }
        try unlinkRaw(dirfd, name, directory: true, display: display)
    }

    /// An O_PATH descriptor of the folder `name`, made 0700 through that descriptor
    /// (fixity_fchmod_path_fd), then reopened for reading. -1 with errno when that is not possible.
    private static func reopenUnreadableFolder(_ dirfd: Int32, _ cName: [CChar], display: String) throws -> Int32 {
        let pathFD = cName.withUnsafeBufferPointer {
            Glibc.openat(dirfd, $0.baseAddress!, FIXITY_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        guard pathFD >= 0 else { return -1 }
        defer { Glibc.close(pathFD) }
        var st = stat()
        guard Glibc.fstat(pathFD, &st) == 0, st.st_uid == geteuid() else {
            errno = EACCES
            return -1
        }
        if fixity_fchmod_path_fd(pathFD, 0o700) != 0 { return -1 }
        return Glibc.openat(pathFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK)
    }

    /// Sets the permission bits of the file or folder `name` in `dirfd` — the inode found there
    /// when it is opened (`O_NOFOLLOW`), changed with `fchmod` on that descriptor, so a name
    /// swapped for a symlink meanwhile can never redirect it. Returns its stat after the change,
    /// nil when it is a symlink (no mode of its own), gone, or of another type (a FIFO raced in:
    /// left for the next scan to report).
    @discardableResult
    package static func chmodEntry(_ dirfd: Int32, _ name: String, mode: mode_t, display: String) throws -> FileStat? {
        var fd = Glibc.openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        var pathOnly = false
        if fd < 0 && errno == EACCES {
            // Not readable by this user (it set mode 0000 on its own file): an O_PATH descriptor.
            fd = Glibc.openat(dirfd, name, FIXITY_O_PATH | O_NOFOLLOW | O_CLOEXEC)
            pathOnly = true
        }
        if fd < 0 {
            if errno == ENOENT || errno == ELOOP { return nil }
            throw StoreError.system("open", path: display)
        }
        defer { Glibc.close(fd) }
        let before = try fstat(fd, display: display)
        guard before.isRegularFile || before.isDirectory else { return nil }
        // An entry this user owns but may not open for reading (mode 0000, not root): through
        // its O_PATH descriptor (fixity_fchmod_path_fd). Every other mode change is an fchmod.
        if (pathOnly ? fixity_fchmod_path_fd(fd, UInt32(mode)) : Glibc.fchmod(fd, mode)) != 0 {
            throw StoreError.system("chmod", path: display)
        }
        return try fstat(fd, display: display)
    }

    /// Sets the immutable attribute on an entry; false where the process or file system cannot.
    package static func setImmutable(_ dirfd: Int32, _ name: String) -> Bool {
        let fd = Glibc.openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        return fixity_set_immutable(fd, 1) == 0
    }

    /// Clears the immutable attribute Fixity may have set (`--immutable`) so the entry can go.
    package static func clearImmutable(_ dirfd: Int32, _ name: String) {
        let fd = Glibc.openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return }
        _ = fixity_set_immutable(fd, 0)
        Glibc.close(fd)
    }

    private static func unlinkRaw(_ dirfd: Int32, _ name: [UInt8], directory: Bool = false, display: String) throws {
        let result = (name + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                Glibc.unlinkat(dirfd, $0.baseAddress!, directory ? AT_REMOVEDIR : 0)
            }
        }
        if result != 0, errno != ENOENT { throw StoreError.system("remove", path: display) }
    }

    package static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    static func retryOnInterrupt<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }
}
