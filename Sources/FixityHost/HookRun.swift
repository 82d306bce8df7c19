import CFixitySys
import FixityCore
import FixityStore
import Foundation
import Glibc

/// Runs a hook or health command the way DESIGN.md says: one string given to `/bin/sh -c`, in the
/// new tree, with `FIXITY_RELEASE`, `FIXITY_ROOT`, `FIXITY_ENV`, `FIXITY_DEPLOYMENT` set.
///
/// How a hook is waited on: Fixity waits for the `/bin/sh` process itself to exit, never for its
/// descendants or for its output to close, so a hook may start a daemon (`systemctl start`, or a
/// plain `server &`) and return. The hook gets only standard input (`/dev/null`), output and error
/// (a private file, 0600 in a 0700 folder, whose last 4 KiB are kept); every other descriptor is
/// closed. It runs as the leader of its own process group: at the timeout, or when Fixity is asked
/// to stop (SIGTERM, SIGINT), that whole group is killed — a daemon that must outlive a failed
/// hook detaches with `setsid`.
package struct HookRun: Sendable, Encodable {
    package let command: String
    package let exitCode: Int32?
    package let timedOut: Bool
    /// Fixity was asked to stop (SIGTERM, SIGINT) while the hook ran; the hook was killed.
    package let interrupted: Bool
    package let seconds: Double
    /// The last 4 KiB of stdout and stderr, interleaved.
    package let outputTail: String

    package var passed: Bool { !timedOut && !interrupted && exitCode == 0 }

    enum CodingKeys: String, CodingKey {
        case command, exitCode = "exit_code", timedOut = "timed_out", interrupted, seconds, outputTail = "output_tail",
            passed
    }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(command, forKey: .command)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(timedOut, forKey: .timedOut)
        if interrupted { try c.encode(interrupted, forKey: .interrupted) }
        try c.encode(seconds, forKey: .seconds)
        try c.encode(outputTail, forKey: .outputTail)
        try c.encode(passed, forKey: .passed)
    }

    init(
        command: String, exitCode: Int32?, timedOut: Bool, interrupted: Bool = false, seconds: Double,
        outputTail: String
    ) {
        self.command = command
        self.exitCode = exitCode
        self.timedOut = timedOut
        self.interrupted = interrupted
        self.seconds = seconds
        self.outputTail = outputTail
    }

    /// Runs `command`; `stoppable` lets a stop signal (when Fixity installed its handlers) kill
    /// it early — off for the hook of a rollback that restores a known-good state, which must run.
    package static func run(
        _ command: String, in directory: String, environment: [String: String], timeout: Double, stoppable: Bool = true
    ) throws -> HookRun {
        let output = try PrivateOutputFile()
        defer { output.close() }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        // Monotonic: a wall clock stepped by NTP must not cut a check short or stretch it.
        let clock = ContinuousClock()
        let start = clock.now
        let pid = ChildProcess.withCStrings(env.map { "\($0.key)=\($0.value)" }) { envp in
            fixity_spawn_shell(directory, command, envp, output.fd)
        }
        guard pid > 0 else {
            throw HookError(
                message: "cannot run /bin/sh for '\(command)' in \(directory): \(String(cString: strerror(errno)))")
        }
        var status: Int32 = 0
        var timedOut = false
        var interrupted = false
        let deadline = start.advanced(by: .milliseconds(Int64(max(0, min(timeout, 1e9)) * 1000)))
        func secondsLeft() -> Double {
            let left = clock.now.duration(to: deadline).components
            return Double(left.seconds) + Double(left.attoseconds) / 1e18
        }
        while true {
            let remaining = secondsLeft()
            let result = fixity_wait_child(pid, Int32(max(0, min(remaining, 3600)) * 1000), stoppable ? 1 : 0, &status)
            if result == 1 { break }
            if result < 0 {
                throw HookError(message: "waiting for '\(command)' failed: \(String(cString: strerror(errno)))")
            }
            if stoppable && fixity_stop_requested() != 0 {
                interrupted = true
            } else if secondsLeft() > 0 {
                continue
            } else {
                timedOut = true
            }
            // The hook and everything it started in its group; then reap the hook itself.
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            break
        }
        let elapsed = start.duration(to: clock.now).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        let code: Int32? = (timedOut || interrupted) ? nil : fixity_exit_code(status)
        return HookRun(
            command: command, exitCode: code, timedOut: timedOut, interrupted: interrupted, seconds: seconds,
            outputTail: output.tail(bytes: 4096))
    }
}

package struct HookError: FixityError, Sendable {
    package let message: String
    package var category: ErrorCategory { .hook }
}
