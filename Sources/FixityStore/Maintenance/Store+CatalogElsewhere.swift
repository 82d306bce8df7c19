import FixityCore
import Glibc

/// A data folder whose catalog lives elsewhere (a replicated server's PostgreSQL database):
/// its own `fixity.db` knows no releases, so a `gc` run on it would take every blob for
/// garbage. `fixity serve --database` marks the folder (`DIR/catalog-elsewhere`, naming the
/// database without its password) and `gc` refuses such a folder.
extension Store {
    static let catalogElsewhereName = "catalog-elsewhere"

    /// Marks this folder durably (temp name, fsync, rename, folder fsync).
    package func markCatalogElsewhere(_ description: String) throws {
        if catalogElsewhere() == description { return }
        let temp = "\(Self.catalogElsewhereName).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let display = "\(path)/\(temp)"
        let fd = try Posix.openat(
            rootFD, temp, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o644, display: display)
        do {
            try Posix.writeAll(fd, Array((description + "\n").utf8), display: display)
            try Posix.fsync(fd, display: display)
            Posix.close(fd)
            try Posix.renameat(
                rootFD, temp, rootFD, Self.catalogElsewhereName, display: "\(path)/\(Self.catalogElsewhereName)")
            try Posix.fsync(rootFD, display: path)
        } catch {
            Posix.close(fd)
            try? Posix.unlinkat(rootFD, temp, display: display)
            throw error
        }
    }

    /// Where the catalog is, when it is not this folder's database.
    package func catalogElsewhere() -> String? {
        let fd = Glibc.openat(rootFD, Self.catalogElsewhereName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Posix.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return "an unknown database" }
        return String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .newlines)
    }
}
