import FixityCore
import Foundation
import Testing

/// Checks a deployed tree against the manifests `fixity show` prints, entry by entry: type,
/// permission bits, symlink target, and each file's SHA-256. Returns the problems found.
enum TreeCheck {
    static func problems(_ sandbox: Sandbox, root: String) throws -> [String] {
        let status = try sandbox.fixity("status", "--root", root, "--json").json()
        guard let active = status["active"] as? [String: Any] else {
            return FileManager.default.fileExists(atPath: "\(root)/current")
                ? ["current exists but status has no active deployment"] : []
        }
        var expected = try entries(sandbox, release: try #require(active["release"] as? String), prefix: "")
        if let config = active["config"] as? String, let path = active["config_path"] as? String {
            expected.merge(try entries(sandbox, release: config, prefix: path + "/")) { $1 }
            var mount = ""
            for component in path.split(separator: "/") {
                mount = mount.isEmpty ? String(component) : mount + "/" + component
                if expected[mount] == nil { expected[mount] = ["type": "dir", "mode": "0755"] }
            }
        }
        let top = (try FileManager.default.destinationOfSymbolicLink(atPath: "\(root)/current"))
        let base = "\(root)/\(top)"
        var problems = [String]()
        var seen = Set<String>()
        let walker = FileManager.default.enumerator(atPath: base)
        while let path = walker?.nextObject() as? String {
            seen.insert(path)
            guard let entry = expected[path] else {
                problems.append("unexpected \(path)")
                continue
            }
            var st = stat()
            guard lstat("\(base)/\(path)", &st) == 0 else {
                problems.append("cannot stat \(path)")
                continue
            }
            let type: String =
                switch st.st_mode & S_IFMT {
                case S_IFREG: "file"
                case S_IFDIR: "dir"
                case S_IFLNK: "symlink"
                default: "other"
                }
            if type != entry["type"] as? String {
                problems.append("\(path): \(type), expected \(entry["type"] ?? "?")")
            }
            let mode = String(format: "%04o", st.st_mode & 0o7777)
            if type != "symlink", mode != entry["mode"] as? String {
                problems.append("\(path): mode \(mode), expected \(entry["mode"] ?? "?")")
            }
            if type == "file" {
                let data = try Data(contentsOf: URL(fileURLWithPath: "\(base)/\(path)"))
                if Digest.of(data).description != entry["digest"] as? String {
                    problems.append("\(path): content differs")
                }
            }
            if type == "symlink",
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(base)/\(path)")) != entry["target"]
                    as? String
            {
                problems.append("\(path): symlink target differs")
            }
        }
        for path in expected.keys where !seen.contains(path) { problems.append("missing \(path)") }
        return problems
    }

    private static func entries(_ sandbox: Sandbox, release: String, prefix: String) throws -> [String: [String: Any]] {
        let show = try sandbox.fixity("show", release, "--json").json()
        var result = [String: [String: Any]]()
        for entry in try #require(show["entries"] as? [[String: Any]]) {
            result[prefix + (try #require(entry["path"] as? String))] = entry
        }
        return result
    }
}
