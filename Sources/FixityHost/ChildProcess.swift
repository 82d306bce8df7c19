import CFixitySys
import FixityCore
import Foundation
import Glibc

/// Where a hook writes its output: a file that never has a name (O_TMPFILE in the temp folder,
/// else an anonymous memory file), mode 0600, so no other user can read what a health check
/// prints (it may print a secret), nobody can plant a symlink where it is written, and a killed
/// Fixity leaves nothing behind.
final class PrivateOutputFile {
    let fd: Int32

    init() throws {
        let base = NSTemporaryDirectory()
        fd = fixity_private_file(base)
        guard fd >= 0 else {
            throw ChildProcessError(
                message:
                    "cannot create a private file for a child process's output in \(base): \(String(cString: strerror(errno)))"
            )
        }
    }

    func close() { Glibc.close(fd) }

    /// How many bytes were written.
    var size: Int {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_size) : 0
    }

    /// The last `bytes` bytes written, decoded leniently.
    func tail(bytes: Int) -> String {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return "" }
        let size = Int(st.st_size)
        let start = max(0, size - bytes)
        var buffer = [UInt8](repeating: 0, count: size - start)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        return String(decoding: buffer.prefix(max(0, n)), as: UTF8.self)
    }
}

/// Starting a child process: the C string arrays posix_spawn wants.
package enum ChildProcess {
    /// Runs `body` with a NULL-terminated array of C strings, freed afterwards.
    package static func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T)
        -> T
    {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

package struct ChildProcessError: FixityError, Sendable {
    package let message: String
    package var category: ErrorCategory { .hook }
}
