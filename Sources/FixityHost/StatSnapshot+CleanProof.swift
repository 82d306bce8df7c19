import CFixitySys
import FixityStore
import Glibc

/// Fast verify's proof that a deployment's tree is exactly as materialized, from its stat
/// snapshot alone: one `lstat` per entry, no manifest decoded, no file read.
///
/// The proof, per folder record:
/// - every recorded child (ignored ones aside) is looked up by its path below the tree, not
///   followed if it is a symlink, and must have the recorded type and mode — and for a file the
///   recorded inode, size, mtime and ctime, for a symlink the recorded target;
/// - the folder holds no other names. A folder whose inode, mtime and ctime are as recorded holds
///   exactly the names it held then (adding, removing or renaming an entry moves both, and no
///   user can set ctime), so it is not listed; one that changed is listed, and every name not
///   recorded must be matched by `[drift] ignore`.
///
/// A folder's own stat is the one its parent already looked up as a child, so each entry costs
/// one `lstat` (as git's `status` does); only the top folder is looked up on its own. The work is
/// split by folder over all cores. Any difference at all ends the proof (nil), and the caller
/// runs the ordinary scan, which says what changed.
extension StatSnapshot {
    private struct NotClean: Error {}

    package func provesClean(treeFD: Int32) -> CleanProof? {
        let subfolders = subfolderIndex()
        let checked = SlotArray<Int>(repeating: 0, count: folderCount)
        // Names matched by `[drift] ignore` found in folder i; written only by the one job that
        // lists folder i (its parent's, or its own for the top folder).
        let extras = SlotArray<Int>(repeating: 0, count: folderCount)
        do {
            try ParallelWork.run(count: folderCount, makeContext: { _ in () }) { folder, _ in
                guard let seen = self.checkFolder(folder, treeFD: treeFD, subfolders: subfolders, extras: extras) else {
                    throw NotClean()
                }
                checked[folder] = seen
            }
        } catch {
            return nil
        }
        var entries = 0
        var ignored = ignoredEntries
        for folder in 0..<folderCount {
            entries += checked[folder] + extras[folder]
            ignored += extras[folder]
        }
        return CleanProof(entriesChecked: entries, ignored: ignored)
    }

    /// For each child record, the folder record of that child when it is a folder (else -1),
    /// rebuilt from the order `encode` wrote: folder records follow a depth-first walk of the tree
    /// with siblings in name order. Each pairing is confirmed by comparing paths; nil when any
    /// fails, and every folder then checks its own stat.
    func subfolderIndex() -> [Int32]? {
        bytes.withUnsafeBytes { raw -> [Int32]? in
            let base = raw.baseAddress!
            func folderRecord(_ folder: Int) -> Int { folderTable + folder * Self.folderRecordSize }
            func text(_ offset: UInt32) -> UnsafeRawPointer { UnsafeRawPointer(base + pool + Int(offset)) }
            var index = [Int32](repeating: -1, count: childCount)
            var nextFolder = 1
            // The walk's open folders, each with the next child record to look at.
            var stack = [(folder: 0, next: Int(raw.loadLE32(folderRecord(0) + 4)))]
            while let (folder, next) = stack.last {
                let record = folderRecord(folder)
                guard
                    next < Int(raw.loadLE32(record + FolderField.firstChild))
                        + Int(raw.loadLE32(record + FolderField.childCount))
                else {
                    stack.removeLast()
                    continue
                }
                stack[stack.count - 1].next = next + 1
                let at = childTable + next * Self.childRecordSize
                guard raw.loadLE32(at + ChildField.mode) & UInt32(S_IFMT) == UInt32(S_IFDIR),
                    raw.loadLE32(at + ChildField.flags) & Flag.ignored == 0
                else { continue }
                guard nextFolder < folderCount else { return nil }
                let sub = nextFolder
                nextFolder += 1
                // The folder record's path must be this folder's path, "/", the child's name.
                let parentPath = text(raw.loadLE32(record + FolderField.path))
                let name = text(raw.loadLE32(at + ChildField.name))
                let subPath = text(raw.loadLE32(folderRecord(sub)))
                let parentLength = strlen(parentPath.assumingMemoryBound(to: CChar.self))
                let nameLength = strlen(name.assumingMemoryBound(to: CChar.self))
                let prefix = parentLength == 0 ? 0 : parentLength + 1
                guard strlen(subPath.assumingMemoryBound(to: CChar.self)) == prefix + nameLength,
                    parentLength == 0
                        || (memcmp(subPath, parentPath, parentLength) == 0
                            && subPath.load(fromByteOffset: parentLength, as: UInt8.self) == 47),
                    memcmp(subPath + prefix, name, nameLength) == 0
                else { return nil }
                index[next] = Int32(sub)
                stack.append((sub, Int(raw.loadLE32(folderRecord(sub) + 4))))
            }
            return nextFolder == folderCount ? index : nil
        }
    }

    /// One folder's recorded children, each by one `lstat` of its path below the tree; and its
    /// list of names when no one else proves it (the top folder, or any folder without
    /// `subfolders`). Returns the children checked, nil at a difference.
    private func checkFolder(_ folder: Int, treeFD: Int32, subfolders: [Int32]?, extras: SlotArray<Int>) -> Int? {
        bytes.withUnsafeBytes { raw -> Int? in
            let base = raw.baseAddress!
            let record = folderTable + folder * Self.folderRecordSize
            let pathPointer = (base + pool + Int(raw.loadLE32(record + FolderField.path))).assumingMemoryBound(
                to: CChar.self)
            let first = Int(raw.loadLE32(record + FolderField.firstChild))
            let count = Int(raw.loadLE32(record + FolderField.childCount))
            let isTop = pathPointer.pointee == 0
            var st = stat()

            if folder == 0 || subfolders == nil {
                let found =
                    isTop
                    ? fstatat(treeFD, ".", &st, AT_SYMLINK_NOFOLLOW)
                    : fstatat(treeFD, pathPointer, &st, AT_SYMLINK_NOFOLLOW)
                guard found == 0, UInt32(st.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR) else { return nil }
                if !listingUnchanged(folder, st, raw) {
                    guard let found = namesMatch(folder, treeFD: treeFD, raw) else { return nil }
                    extras[folder] = found
                }
            }

            // Children are looked up by their path below the tree. (Opening each folder once and
            // looking names up below it measured no faster: an open and a close per folder cost
            // what the longer path walks do.)
            let prefixLength = isTop ? 0 : strlen(pathPointer) + 1
            var path = [CChar](repeating: 0, count: prefixLength + Int(NAME_MAX) + 2)
            if prefixLength > 0 {
                path.withUnsafeMutableBufferPointer { _ = memcpy($0.baseAddress!, pathPointer, prefixLength - 1) }
                path[prefixLength - 1] = 47  // "/"
            }
            var link = [CChar]()
            var seen = 0
            for child in first..<(first + count) {
                let at = childTable + child * Self.childRecordSize
                let flags = raw.loadLE32(at + ChildField.flags)
                if flags & Flag.ignored != 0 { continue }
                let name = base + pool + Int(raw.loadLE32(at + ChildField.name))
                let length = strlen(name.assumingMemoryBound(to: CChar.self))
                guard length <= Int(NAME_MAX) else { return nil }
                let ok = path.withUnsafeMutableBufferPointer { buffer -> Bool in
                    let childPath = buffer.baseAddress!
                    memcpy(childPath + prefixLength, name, length + 1)
                    guard fstatat(treeFD, childPath, &st, AT_SYMLINK_NOFOLLOW) == 0,
                        UInt32(st.st_mode) == raw.loadLE32(at + ChildField.mode)
                    else { return false }
                    switch UInt32(st.st_mode) & UInt32(S_IFMT) {
                    case UInt32(S_IFREG):
                        return flags & Flag.vouched != 0 && UInt64(st.st_ino) == raw.loadLE64(at + ChildField.inode)
                            && UInt64(bitPattern: Int64(st.st_size)) == raw.loadLE64(at + ChildField.size)
                            && Self.sameTimes(st, raw, at + ChildField.mtime)
                    case UInt32(S_IFLNK):
                        let targetOffset = raw.loadLE32(at + ChildField.target)
                        guard targetOffset != Self.noTarget else { return false }
                        let expected = base + pool + Int(targetOffset)
                        let targetLength = strlen(expected.assumingMemoryBound(to: CChar.self))
                        if link.isEmpty { link = [CChar](repeating: 0, count: Int(PATH_MAX) + 1) }
                        let n = link.withUnsafeMutableBufferPointer {
                            Glibc.readlinkat(treeFD, childPath, $0.baseAddress!, $0.count)
                        }
                        return n == targetLength
                            && link.withUnsafeBufferPointer({ memcmp($0.baseAddress!, expected, targetLength) }) == 0
                    case UInt32(S_IFDIR):
                        // This lookup is the subfolder's own stat: it proves that folder's names.
                        guard let subfolders, case let sub = Int(subfolders[child]), sub > 0 else { return true }
                        if listingUnchanged(sub, st, raw) { return true }
                        guard let found = namesMatch(sub, treeFD: treeFD, raw) else { return false }
                        extras[sub] = found
                        return true
                    default:
                        return true
                    }
                }
                guard ok else { return nil }
                seen += 1
            }
            return seen
        }
    }

    /// The folder record says its stat was recorded, and `st` has that inode, mtime and ctime.
    private func listingUnchanged(_ folder: Int, _ st: stat, _ raw: UnsafeRawBufferPointer) -> Bool {
        let record = folderTable + folder * Self.folderRecordSize
        return raw.loadLE32(record + FolderField.flags) & Flag.vouched != 0
            && UInt64(st.st_ino) == raw.loadLE64(record + FolderField.inode)
            && Self.sameTimes(st, raw, record + FolderField.mtime)
    }

    /// Lists a folder whose stat changed: every recorded name (ignored ones aside) must be there,
    /// and every other name must be matched by `[drift] ignore`. Returns how many such ignored
    /// names it holds, nil at a difference. Opened beneath the tree, never through a symlink.
    private func namesMatch(_ folder: Int, treeFD: Int32, _ raw: UnsafeRawBufferPointer) -> Int? {
        let base = raw.baseAddress!
        let record = folderTable + folder * Self.folderRecordSize
        let pathPointer = (base + pool + Int(raw.loadLE32(record + FolderField.path))).assumingMemoryBound(
            to: CChar.self)
        let first = Int(raw.loadLE32(record + FolderField.firstChild))
        let count = Int(raw.loadLE32(record + FolderField.childCount))
        let required = Int(raw.loadLE32(record + FolderField.required))
        let fd =
            pathPointer.pointee == 0
            ? Glibc.openat(treeFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : fixity_open_beneath(treeFD, pathPointer)
        guard fd >= 0 else { return nil }
        guard let dir = fdopendir(fd) else {
            Glibc.close(fd)
            return nil
        }
        defer { closedir(dir) }
        var matched = 0
        var ignoredExtras = 0
        while let dirent = readdir(dir) {
            let name = (UnsafeRawPointer(dirent) + Self.nameOffset).assumingMemoryBound(to: CChar.self)
            if name[0] == 46 && (name[1] == 0 || (name[1] == 46 && name[2] == 0)) { continue }
            var low = 0
            var high = count
            var found: Int?
            while low < high {
                let mid = (low + high) / 2
                let at = childTable + (first + mid) * Self.childRecordSize
                let order = strcmp(
                    name, (base + pool + Int(raw.loadLE32(at + ChildField.name))).assumingMemoryBound(to: CChar.self))
                if order == 0 {
                    found = first + mid
                    break
                }
                if order > 0 { low = mid + 1 } else { high = mid }
            }
            guard let child = found else {
                // Not in the index: drift, unless the release allows it to change.
                let folderPath = String(cString: pathPointer)
                let own = String(decoding: UnsafeRawBufferPointer(start: name, count: strlen(name)), as: UTF8.self)
                guard ignore.ignores(folderPath.isEmpty ? own : "\(folderPath)/\(own)") else { return nil }
                ignoredExtras += 1
                continue
            }
            if raw.loadLE32(childTable + child * Self.childRecordSize + 12) & Flag.ignored == 0 { matched += 1 }
        }
        return matched == required ? ignoredExtras : nil
    }
}
