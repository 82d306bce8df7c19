import Glibc

/// The parts of `struct stat` Fixity uses, with nanosecond times.
package struct FileStat: Sendable, Equatable {
    package let device: UInt64
    package let inode: UInt64
    /// The full `st_mode`: type and permission bits.
    package let rawMode: UInt32
    package let size: Int64
    package let mtimeNanos: Int64
    package let ctimeNanos: Int64

    package init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        rawMode = UInt32(st.st_mode)
        size = Int64(st.st_size)
        mtimeNanos = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        ctimeNanos = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    }

    package init(device: UInt64, inode: UInt64, rawMode: UInt32, size: Int64, mtimeNanos: Int64, ctimeNanos: Int64) {
        self.device = device
        self.inode = inode
        self.rawMode = rawMode
        self.size = size
        self.mtimeNanos = mtimeNanos
        self.ctimeNanos = ctimeNanos
    }

    package var permissions: UInt32 { rawMode & 0o7777 }
    package var isRegularFile: Bool { rawMode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    package var isDirectory: Bool { rawMode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
    package var isSymlink: Bool { rawMode & UInt32(S_IFMT) == UInt32(S_IFLNK) }

    /// "character device", "FIFO" …: for errors that refuse a special file.
    package var typeDescription: String {
        switch rawMode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): "regular file"
        case UInt32(S_IFDIR): "directory"
        case UInt32(S_IFLNK): "symlink"
        case UInt32(S_IFCHR): "character device"
        case UInt32(S_IFBLK): "block device"
        case UInt32(S_IFIFO): "FIFO"
        case UInt32(S_IFSOCK): "socket"
        default: "unknown file type"
        }
    }

    /// True when the content may differ although nothing else about the file does:
    /// any change to size, times or identity.
    package func sameContentSignature(as other: FileStat) -> Bool {
        device == other.device && inode == other.inode && size == other.size
            && mtimeNanos == other.mtimeNanos && ctimeNanos == other.ctimeNanos
    }
}
