import Foundation
import Glibc

/// A private folder in the temp directory (`$TMPDIR`, else /tmp): made by `mkdtemp` — an
/// unpredictable name, mode 0700 — so nobody else on the host can plant a symlink or a folder
/// where Fixity will write, or read or change what it holds while it is used. The one way Fixity
/// makes a temp folder. The caller removes it (`defer { folder.remove() }`): not in deinit,
/// since Swift may end an object's lifetime at its last use, before what is inside has been read.
/// A killed process leaves it to the temp cleaner.
package final class PrivateTempFolder: Sendable {
    package let path: String

    /// `purpose` becomes part of the name (`fixity-<purpose>-XXXXXX`), so a leftover says what
    /// made it.
    package init(purpose: String) throws {
        let base = NSTemporaryDirectory()
        var template = Array((base + "/fixity-\(purpose)-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StoreError.system("create a private temp folder in", path: base)
        }
        path = String(cString: made)
    }

    /// A path inside the folder (not created).
    package func child(_ name: String) -> String { path + "/" + name }

    package func remove() { try? FileManager.default.removeItem(atPath: path) }
}
