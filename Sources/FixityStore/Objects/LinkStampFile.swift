import FixityCore

/// A link source's identity: the blob it holds and the mode it carries (`links/<mode>/<hex>`).
package struct LinkSourceKey: Hashable, Sendable, Comparable {
    package let digest: Digest
    package let mode: UInt32

    package init(digest: Digest, mode: UInt32) {
        self.digest = digest
        self.mode = mode
    }

    /// `<mode>/<2 hex>/<62 hex>` below `links/`.
    package var name: String { Store.linkName(digest, mode: mode) }

    package static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.mode != rhs.mode ? lhs.mode < rhs.mode : lhs.digest < rhs.digest
    }
}

/// The verified stamps of all link sources, as one binary file `STORE/cache/link-stamps`
/// (format in docs/design.md, "Link stamps"): a header, fixed-size records sorted by (mode,
/// digest), and a SHA-256 over all of it. It replaced 19,349 SQLite rows re-written by every
/// hardlink deploy of the benchmark corpus. A missing, torn or foreign file is no stamps at all
/// (every source is re-hashed); it is never trusted in part.
enum LinkStampFile {
    static let name = "link-stamps"
    static let magic = Array("fixity-linkstamp".utf8)
    static let version: UInt32 = 1
    static let headerSize = 32
    static let recordSize = 72

    /// Record layout (little-endian): digest 32 bytes, mode u32, reserved u32 (0), inode u64,
    /// size i64, mtime ns i64, ctime ns i64.
    enum Field {
        static let digest = 0
        static let mode = 32
        static let inode = 40
        static let size = 48
        static let mtime = 56
        static let ctime = 64
    }

    static func encode(_ stamps: [LinkSourceKey: LinkStamp]) -> [UInt8] {
        var out = magic
        out.reserveCapacity(headerSize + stamps.count * recordSize + 32)
        out.appendLE(version)
        out.appendLE(UInt32(stamps.count))
        out.appendLE(UInt64(0))
        for key in stamps.keys.sorted() {
            let stamp = stamps[key]!
            key.digest.append(to: &out)
            out.appendLE(key.mode)
            out.appendLE(UInt32(0))
            out.appendLE(stamp.inode)
            out.appendLE(UInt64(bitPattern: stamp.size))
            out.appendLE(UInt64(bitPattern: stamp.mtimeNanos))
            out.appendLE(UInt64(bitPattern: stamp.ctimeNanos))
        }
        Digest.of(out).append(to: &out)
        return out
    }

    /// The stamps in `bytes`, or nil when the file is not an intact stamps file of this version.
    static func parse(_ bytes: [UInt8]) -> [LinkSourceKey: LinkStamp]? {
        guard bytes.count >= headerSize + 32, bytes[0..<16].elementsEqual(magic), bytes.loadLE32(16) == version else {
            return nil
        }
        let count = Int(bytes.loadLE32(20))
        guard bytes.count == headerSize + count * recordSize + 32 else { return nil }
        let bodyEnd = bytes.count - 32
        guard Digest.of(bytes[0..<bodyEnd]).bytes.elementsEqual(bytes[bodyEnd...]) else { return nil }
        var stamps = [LinkSourceKey: LinkStamp](minimumCapacity: count)
        bytes.withUnsafeBytes { raw in
            for index in 0..<count {
                let at = headerSize + index * recordSize
                let key = LinkSourceKey(
                    digest: Digest(rawBytes: raw, at: at + Field.digest), mode: raw.loadLE32(at + Field.mode))
                stamps[key] = LinkStamp(
                    inode: raw.loadLE64(at + Field.inode), size: Int64(bitPattern: raw.loadLE64(at + Field.size)),
                    mtimeNanos: Int64(bitPattern: raw.loadLE64(at + Field.mtime)),
                    ctimeNanos: Int64(bitPattern: raw.loadLE64(at + Field.ctime)))
            }
        }
        return stamps
    }
}
