import CFixitySys
import FixityCore
import FixityTrust
import Foundation
import Glibc

/// Asks `git` about a folder while a seal runs: `start` spawns the three `git` commands at once
/// (their output goes to private files, so none ever blocks on a full pipe) and `finish` collects
/// them. The seal's walk and hashing overlap git's work, and a folder with no `.git` above it
/// (and no `GIT_DIR`) spawns nothing at all — on a 20,000-file re-seal, three sequential `git`
/// runs through Foundation's `Process` were a third of the wall time.
package struct GitProbe: ~Copyable {
    private struct Run {
        let pid: Int32
        let output: PrivateOutputFile
    }
    private let revParse: Run?
    private let remote: Run?
    private let status: Run?

    /// Spawns the probe for `directory`; an inert probe when no checkout can be there.
    package init(directory: String) {
        guard Self.mayBeInCheckout(directory) else {
            (revParse, remote, status) = (nil, nil, nil)
            return
        }
        let git = ["git", "-C", directory]
        revParse = Self.spawn(git + ["rev-parse", "--show-toplevel", "--show-prefix", "HEAD"])
        remote = Self.spawn(git + ["config", "--get", "remote.origin.url"])
        // Read-only: a background status must not take the index lock a developer's git needs.
        status = Self.spawn(
            [
                "git", "--no-optional-locks", "-C", directory, "status", "--porcelain", "--untracked-files=normal",
                "--", ".",
            ])
    }

    /// Waits for the probe's commands; nil when the folder is not in a checkout with a commit (or
    /// git is not installed).
    package consuming func finish() -> GitCheckout? {
        let lines = Self.collect(revParse) { $0.tail(bytes: 64 << 10) }
            .map { $0.split(separator: "\n", omittingEmptySubsequences: false) }
        let remoteURL = Self.collect(remote) { $0.tail(bytes: 64 << 10) }?.trimmingCharacters(
            in: .whitespacesAndNewlines)
        // Any line of `status --porcelain` is a change; only whether there is one matters.
        let dirty = Self.collect(status) { $0.size > 0 } ?? false
        // `--show-prefix` prints an empty line at the top of the checkout: three lines, always.
        guard let lines, lines.count >= 3 else { return nil }
        let top = String(lines[0])
        let prefix = String(lines[1])
        let commit = String(lines[2])
        guard !top.isEmpty, commit.count == 40, commit.allSatisfy(\.isHexDigit) else { return nil }
        return GitCheckout(
            top: top, commit: commit, remote: remoteURL.flatMap { $0.isEmpty ? nil : $0 },
            dirty: dirty, relativePath: prefix)
    }

    /// A `.git` in the folder or any folder above it, or a `GIT_DIR` that points elsewhere.
    static func mayBeInCheckout(_ directory: String) -> Bool {
        if getenv("GIT_DIR") != nil { return true }
        guard let resolved = realpath(directory, nil) else { return false }
        var folder = String(cString: resolved)
        free(resolved)
        while true {
            var st = stat()
            if lstat(folder + (folder == "/" ? ".git" : "/.git"), &st) == 0 { return true }
            guard folder != "/", let slash = folder.lastIndex(of: "/") else { return false }
            folder = slash == folder.startIndex ? "/" : String(folder[..<slash])
        }
    }

    private static func spawn(_ arguments: [String]) -> Run? {
        guard let output = try? PrivateOutputFile() else { return nil }
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let pid = ChildProcess.withCStrings(arguments) { argv in
            ChildProcess.withCStrings(environment) { envp in
                fixity_spawn_capture(
                    UnsafeMutablePointer(mutating: argv), UnsafeMutablePointer(mutating: envp), output.fd)
            }
        }
        guard pid > 0 else {
            output.close()
            return nil
        }
        return Run(pid: pid, output: output)
    }

    /// `read` of the run's output when it exited 0; nil otherwise. Always reaps the child.
    private static func collect<T>(_ run: Run?, read: (PrivateOutputFile) -> T) -> T? {
        guard let run else { return nil }
        defer { run.output.close() }
        var status: Int32 = 0
        while waitpid(run.pid, &status, 0) < 0 {
            guard errno == EINTR else { return nil }
        }
        guard fixity_exit_code(status) == 0 else { return nil }
        return read(run.output)
    }
}
