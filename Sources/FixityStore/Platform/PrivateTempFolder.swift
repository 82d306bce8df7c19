import Foundation
import Glibc

/// A private folder in the temp directory (`$TMPDIR`, else /tmp): made by `mkdtemp` — an
/// unpredictable name, mode 0700 — so nobody else on the host can plant a symlink or a folder
/// where Fixity will write, or read or change what it holds while it is used. The one way Fixity
/// makes a temp folder. The caller removes it (`defer { folder.remove() }`): not in deinit,
/// since Swift may end an object's lifetime at its last use, before what is inside has been read.
/// A killed process leaves it to the temp cleaner.
public final class PrivateTempFolder: Sendable {
    public let path: String

    /// `purpose` becomes part of the name (`fixity-<purpose>-XXXXXX`), so a leftover says what
    /// made it.
    public init(purpose: String) throws {
        let base = NSTemporaryDirectory()
        var template = Array((base + "/fixity-\(purpose)-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StoreError.system("create a private temp folder in", path: base)
        }
        path = String(cString: made)
    }

    /// A path inside the folder (not created).
    public func child(_ name: String) -> String { path + "/" + name }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
