import Foundation
import Glibc

/// A private folder for a pulled image while it is imported or used as a base: made by mkdtemp
/// (an unpredictable name, mode 0700), so nobody else on the host can plant a symlink or a
/// folder where it will be written, or read or change it while it is used. The caller removes
/// it (`defer { scratch.remove() }`): not in deinit, since Swift may end an object's lifetime
/// at its last use, before the layout inside has been read. A killed process leaves it to the
/// temp cleaner.
final class ScratchFolder {
    let folder: String
    /// Where the layout goes: inside the private folder, not yet existing.
    var layout: String { folder + "/layout" }

    init(purpose: String) throws {
        var template = Array((NSTemporaryDirectory() + "/fixity-\(purpose)-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CLIError(
                "cannot create a private temp folder in \(NSTemporaryDirectory()): \(String(cString: strerror(errno)))")
        }
        folder = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}
