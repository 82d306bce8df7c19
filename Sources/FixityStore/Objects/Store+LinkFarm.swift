import FixityCore
import Glibc
import Synchronization

/// Hardlink sources for `deploy --link hardlink`.
///
/// A hard link shares one inode, so it shares one mode; objects are all 0444, and a deployed
/// file must carry its manifest mode. So the store keeps, per (mode, digest) that a hardlink
/// deploy needed, one verified copy under `links/<mode>/<2 hex>/<62 hex>`, and deployments link
/// to it. The objects themselves are never linked into a root, so a change made to a live file
/// through its link can never alter `objects/`: the original stays available for repair.
///
/// Before a deploy links a file it makes sure the link source holds the right bytes: a source
/// whose stat matches its verified stamp (LinkStamps.swift: the trust model) is trusted, any
/// other is re-hashed, and one changed through some deployment's link is replaced from
/// `objects/` instead of being spread further. gc removes sources that no deployment links any
/// more (link count 1) and those of dead blobs.
extension Store {
    static let linkCounter = Atomic<Int>(0)

    /// `<mode>/<2 hex>/<62 hex>` below `links/`.
    package static func linkName(_ digest: Digest, mode: UInt32) -> String {
        "\(ManifestEntry.octalMode(mode))/\(objectName(digest))"
    }

    /// What preparing a link source found.
    struct PreparedSource {
        /// The source's stat once its bytes were known good (trusted by stamp, hashed, or new).
        let verified: FileStat
        /// True when it was trusted by its stamp without reading a byte.
        let trustedByStamp: Bool
    }

    /// Makes sure a verified link source exists for (digest, mode): trusts one whose stat matches
    /// `stamp` (unless `verification` is `.always`), re-hashes any other, and replaces it from
    /// `objects/` when it was changed through some deployment's link.
    func prepareLinkSource(
        _ digest: Digest, size: UInt64, mode: UInt32, name source: String, buffer: UnsafeMutableRawBufferPointer,
        stamp: LinkStamp?,
        verification: SourceVerification
    ) throws -> PreparedSource {
        let sourceDisplay = "\(path)/links/\(source)"
        if let st = try Posix.lstatat(linksFD, source, display: sourceDisplay) {
            if st.isRegularFile && st.permissions == mode {
                if verification == .stamped, let stamp, stamp.matches(st) {
                    return PreparedSource(verified: st, trustedByStamp: true)
                }
                if let hashed = try? verifyLinkSource(source, digest: digest, size: size, buffer: buffer) {
                    return PreparedSource(verified: hashed, trustedByStamp: false)
                }
            }
            try Posix.unlinkat(linksFD, source, display: sourceDisplay)
        }
        try createLinkSource(digest, mode: mode, at: source, buffer: buffer)
        guard let created = try Posix.lstatat(linksFD, source, display: sourceDisplay) else {
            throw StoreError(.io, "link source \(sourceDisplay) vanished as it was created", path: sourceDisplay)
        }
        return PreparedSource(verified: created, trustedByStamp: false)
    }

    /// fsck's part: re-hashes every link source, removes the wrong ones and stamps the good ones
    /// anew (a stamp is only ever made right after the bytes were read). Returns (checked, removed).
    func recheckLinkSources(buffer: UnsafeMutableRawBufferPointer) throws -> (checked: Int, removed: [String]) {
        var checked = 0
        var removed = [String]()
        var stamps = [LinkSourceKey: LinkStamp?]()
        for modeRaw in try Posix.directoryNames(linksFD, display: "\(path)/links") {
            let mode = String(decoding: modeRaw, as: UTF8.self)
            guard let modeFD = try? Posix.openDirectory(linksFD, mode, display: "\(path)/links/\(mode)") else {
                continue
            }
            defer { Posix.close(modeFD) }
            for fanoutRaw in try Posix.directoryNames(modeFD, display: "\(path)/links/\(mode)") {
                let fanout = String(decoding: fanoutRaw, as: UTF8.self)
                guard
                    let fanoutFD = try? Posix.openDirectory(modeFD, fanout, display: "\(path)/links/\(mode)/\(fanout)")
                else { continue }
                let names = (try? Posix.directoryNames(fanoutFD, display: "\(path)/links/\(mode)/\(fanout)")) ?? []
                Posix.close(fanoutFD)
                for nameRaw in names {
                    let source = "\(mode)/\(fanout)/\(String(decoding: nameRaw, as: UTF8.self))"
                    checked += 1
                    let digest = Digest(hex: fanout + String(decoding: nameRaw, as: UTF8.self))
                    let key = digest.flatMap { digest in
                        UInt32(mode, radix: 8).map { LinkSourceKey(digest: digest, mode: $0) }
                    }
                    guard let digest, let key,
                        let st = try Posix.lstatat(linksFD, source, display: source), st.isRegularFile,
                        let verified = try? verifyLinkSource(
                            source, digest: digest, size: UInt64(max(0, st.size)), buffer: buffer)
                    else {
                        try Posix.unlinkat(linksFD, source, display: "\(path)/links/\(source)")
                        removed.append(source)
                        if let key { stamps[key] = .some(nil) }
                        continue
                    }
                    stamps[key] = LinkStamp(verified)
                }
            }
        }
        try updateLinkStamps(stamps)
        return (checked, removed)
    }

    /// Hard-links the prepared link source `source` (its name below `links/`) to `name` in `dirfd`.
    func link(source: String, to dirfd: Int32, _ name: String, display: String) throws {
        if linkat(linksFD, source, dirfd, name, 0) != 0 {
            if errno == EXDEV {
                throw StoreError(
                    .badInput,
                    "--link hardlink needs the root and the store (\(path)) on one file system; use --link auto or copy",
                    path: display, errno: EXDEV)
            }
            throw StoreError.system("link", path: display)
        }
    }

    /// Hashes a link source; its stat from before the read when the bytes are right (a stamp is
    /// taken of the state that was read), nil when they are not or it changed while read.
    private func verifyLinkSource(_ source: String, digest: Digest, size: UInt64, buffer: UnsafeMutableRawBufferPointer)
        throws -> FileStat?
    {
        let fd = try Posix.openat(linksFD, source, flags: O_RDONLY | O_NOFOLLOW, display: source)
        defer { Posix.close(fd) }
        let before = try Posix.fstat(fd, display: source)
        guard before.size == Int64(size) else { return nil }
        // Mapped from 64 KiB up: no copy into a buffer, which was a third of this function's time.
        let good: Bool
        if size >= 64 << 10, let mapped = Posix.mappedDigest(fd, size: Int(size)) {
            good = mapped == digest
        } else {
            let (actual, total) = try Posix.hashToEnd(fd, buffer: buffer, display: source)
            good = total == size && actual == digest
        }
        guard good, try Posix.fstat(fd, display: source).sameContentSignature(as: before) else { return nil }
        return before
    }

    private func createLinkSource(
        _ digest: Digest, mode: UInt32, at source: String, buffer: UnsafeMutableRawBufferPointer
    ) throws {
        let parts = source.split(separator: "/")
        try Posix.mkdirat(linksFD, String(parts[0]), mode: 0o755, display: "\(path)/links/\(parts[0])")
        try Posix.mkdirat(
            linksFD, "\(parts[0])/\(parts[1])", mode: 0o755, display: "\(path)/links/\(parts[0])/\(parts[1])")
        let temp = "link-\(getpid())-\(Self.linkCounter.add(1, ordering: .relaxed).newValue)"
        let tempDisplay = "\(path)/tmp/\(temp)"
        let fd = try Posix.openat(
            tmpFD, temp, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, display: tempDisplay)
        do {
            _ = try streamObject(digest, buffer: buffer) { try Posix.writeAll(fd, $0, display: tempDisplay) }
            if fchmod(fd, mode) != 0 { throw StoreError.system("chmod", path: tempDisplay) }
            Posix.close(fd)
            // Durability: the deploy ends with a syncfs of the root's file system, which a
            // hardlink deploy shares with the store, before anything is switched.
            try Posix.renameat(tmpFD, temp, linksFD, source, display: "\(path)/links/\(source)")
        } catch {
            Posix.close(fd)
            try? Posix.unlinkat(tmpFD, temp, display: tempDisplay)
            throw error
        }
    }

    /// Link sources no deployment links any more, or whose blob is dead: gc's part.
    func sweepLinkFarm(live: Set<Digest>, dryRun: Bool) throws -> Int {
        var removed = 0
        var forgotten = [LinkSourceKey: LinkStamp?]()
        for modeRaw in try Posix.directoryNames(linksFD, display: "\(path)/links") {
            let mode = String(decoding: modeRaw, as: UTF8.self)
            let modeFD = try Posix.openDirectory(linksFD, mode, display: "\(path)/links/\(mode)")
            defer { Posix.close(modeFD) }
            for fanoutRaw in try Posix.directoryNames(modeFD, display: "\(path)/links/\(mode)") {
                let fanout = String(decoding: fanoutRaw, as: UTF8.self)
                let fanoutFD = try Posix.openDirectory(modeFD, fanout, display: "\(path)/links/\(mode)/\(fanout)")
                defer { Posix.close(fanoutFD) }
                for nameRaw in try Posix.directoryNames(fanoutFD, display: "\(path)/links/\(mode)/\(fanout)") {
                    let name = String(decoding: nameRaw, as: UTF8.self)
                    var st = stat()
                    guard fstatat(fanoutFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                    let digest = Digest(hex: fanout + name)
                    if st.st_nlink <= 1 || digest == nil || !live.contains(digest!) {
                        removed += 1
                        if !dryRun {
                            try Posix.unlinkat(fanoutFD, name, display: "\(path)/links/\(mode)/\(fanout)/\(name)")
                        }
                        if let digest, let modeBits = UInt32(mode, radix: 8) {
                            forgotten[LinkSourceKey(digest: digest, mode: modeBits)] = .some(nil)
                        }
                    }
                }
            }
        }
        // A removed source's stamp could never match again; dropping it keeps the file small.
        if !dryRun { try updateLinkStamps(forgotten) }
        return removed
    }
}
