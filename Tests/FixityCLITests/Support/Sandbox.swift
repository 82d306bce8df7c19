import Foundation
import Testing

/// What one run of the `fixity` binary printed and returned.
struct RunResult {
    let status: Int32
    let stdout: String
    let stderr: String

    /// The `--json` document on stdout.
    func json() throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(object as? [String: Any], "stdout is not a JSON object: \(stdout)")
    }
}

/// Runs the built `fixity` binary the way an operator's script would, in a private temp folder
/// with its own store.
final class Sandbox {
    let root: String
    var store: String { "\(root)/store" }

    init() throws {
        var template = Array("\(NSTemporaryDirectory())/fixity-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        root = String(cString: made)
    }

    deinit {
        _ = try? Sandbox.shell(
            "chattr -R -i '\(root)' 2>/dev/null; chmod -R u+rwX '\(root)' 2>/dev/null; rm -rf '\(root)'")
    }

    static let binary: String = {
        if let explicit = ProcessInfo.processInfo.environment["FIXITY_BIN"] { return explicit }
        // The test bundle sits next to the products of the same build.
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("fixity").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug/fixity").path
    }()

    /// Runs `fixity ARGS --store STORE` (unless the args name a store) and captures everything.
    /// `prefix` runs it under another program (`setpriv …`).
    @discardableResult
    func fixity(_ args: [String], store: String? = nil, prefix: [String] = []) throws -> RunResult {
        var arguments = args
        if !args.contains("--store") && args.first != "demo" && args.first != "verify-bundle" {
            arguments += ["--store", store ?? self.store]
        }
        if let program = prefix.first {
            return try Self.run(program, Array(prefix.dropFirst()) + [Self.binary] + arguments, in: root)
        }
        return try Self.run(Self.binary, arguments, in: root)
    }

    @discardableResult
    func fixity(_ args: String...) throws -> RunResult { try fixity(args) }

    /// Seals `dir` and returns the release id, requiring success.
    func seal(_ dir: String, app: String = "app", extra: [String] = [], store: String? = nil) throws -> String {
        let result = try fixity(["seal", dir, "--app", app] + extra, store: store)
        try #require(result.status == 0, "seal failed: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs a shell script in the sandbox folder, requiring success.
    @discardableResult
    func sh(_ script: String) throws -> RunResult {
        let result = try Self.run("/bin/sh", ["-c", script], in: root)
        try #require(result.status == 0, "shell step failed: \(script)\n\(result.stderr)")
        return result
    }

    /// Makes a signing key `NAME.key` in the sandbox for each name; returns each one's public
    /// half as a policy file names it (`ed25519:…`), by name.
    func signingKeys(_ names: [String]) throws -> [String: String] {
        var keys: [String: String] = [:]
        for name in names {
            try sh("\(Self.binary) key generate --out \(name).key >/dev/null 2>&1")
            keys[name] = try sh("\(Self.binary) key public \(name).key 2>/dev/null").stdout.trimmingCharacters(
                in: .whitespacesAndNewlines)
        }
        return keys
    }

    static func shell(_ script: String) throws -> RunResult {
        try run("/bin/sh", ["-c", script], in: "/")
    }

    static func run(_ executable: String, _ arguments: [String], in directory: String) throws -> RunResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "FIXITY_STORE")
        process.environment = env
        // Files, not pipes: a chatty child can never block on a full pipe.
        let outPath = "\(NSTemporaryDirectory())/fixity-test-out-\(UUID().uuidString)"
        let errPath = outPath + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        process.waitUntilExit()
        return RunResult(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    static var isRoot: Bool { geteuid() == 0 }
}
