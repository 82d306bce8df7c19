import CFixitySys
import FixityCore
import FixityHost
import Foundation
import Glibc

/// Runs one command of an access window on this host: argv as given (no shell), in its own
/// process group, standard input /dev/null, both output streams read as they come. Every byte
/// is counted and hashed; the first `AccessLimits.keptOutput` of each stream are handed on.
/// At the timeout (or when the agent is told to stop) the whole group is killed. Once the
/// command itself has exited, output still held open by something it left running is read for
/// one more second, then no longer waited for.
struct ExecRunner {
    struct Outcome: Sendable {
        let exitCode: Int?
        let signal: Int?
        let timedOut: Bool
        let stdoutBytes: Int64
        let stderrBytes: Int64
        let stdoutDigest: Digest
        let stderrDigest: Digest
    }

    enum Stream: Int, Sendable { case stdout = 0, stderr = 1 }

    let argv: [String]
    let directory: String
    let environment: [String: String]
    let timeout: Double

    /// Blocks until the command ended; `output` gets each kept piece, in order, per stream.
    func run(output: (Stream, [UInt8]) -> Void) throws -> Outcome {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard fixity_pipe_cloexec(&outPipe) == 0 else { throw ExecFailure("pipe: \(String(cString: strerror(errno)))") }
        guard fixity_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0])
            close(outPipe[1])
            throw ExecFailure("pipe: \(String(cString: strerror(errno)))")
        }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let pid = ChildProcess.withCStrings(argv) { args in
            ChildProcess.withCStrings(env.map { "\($0.key)=\($0.value)" }) { envp in
                fixity_spawn_command(directory, args, envp, outPipe[1], errPipe[1])
            }
        }
        let spawnError = errno
        close(outPipe[1])
        close(errPipe[1])
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        guard pid > 0 else {
            // As a shell answers: 127 for a command that is not there, 126 for one that cannot
            // run; the reason on stderr. A refusal (2) is the window's or the policy's word only.
            let message = Array(
                "fixity exec: \(argv[0].prefix(200)): \(String(cString: strerror(spawnError)))\n".utf8)
            output(.stderr, message)
            var hasher = ContentHasher()
            message.withUnsafeBytes { hasher.update($0) }
            return Outcome(
                exitCode: spawnError == ENOENT || spawnError == ENOTDIR ? 127 : 126, signal: nil, timedOut: false,
                stdoutBytes: 0, stderrBytes: Int64(message.count), stdoutDigest: ContentHasher().finalize(),
                stderrDigest: hasher.finalize())
        }
        var hashers = [ContentHasher(), ContentHasher()]
        var totals: [Int64] = [0, 0]
        var open = [true, true]
        let fds = [outPipe[0], errPipe[0]]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(Int64(max(0, min(timeout, 1e7)) * 1000)))
        var status: Int32 = 0
        var exited = false
        var exitedAt: ContinuousClock.Instant?
        var timedOut = false

        func drain(_ index: Int) {
            let count = buffer.withUnsafeMutableBytes { read(fds[index], $0.baseAddress, $0.count) }
            if count <= 0 {
                if count == 0 || (errno != EINTR && errno != EAGAIN) { open[index] = false }
                return
            }
            buffer.withUnsafeBytes { hashers[index].update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            let room = max(0, Int64(AccessLimits.keptOutput) - totals[index])
            totals[index] += Int64(count)
            if room > 0 { output(Stream(rawValue: index)!, Array(buffer[0..<min(count, Int(room))])) }
        }

        while true {
            if !exited {
                let done = waitpid(pid, &status, WNOHANG)
                if done == pid {
                    exited = true
                    exitedAt = clock.now
                }
            }
            let lingering = exitedAt.map { $0.duration(to: clock.now) > .seconds(1) } ?? false
            if exited && (!open.contains(true) || lingering) { break }
            if clock.now >= deadline || fixity_stop_requested() != 0 {
                timedOut = clock.now >= deadline
                kill(-pid, SIGKILL)
                if !exited {
                    kill(pid, SIGKILL)
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                    exited = true
                }
                // What the killed group wrote before it died is still read (briefly).
                for index in 0..<2 where open[index] {
                    var descriptor = pollfd(fd: fds[index], events: Int16(POLLIN), revents: 0)
                    while open[index] && poll(&descriptor, 1, 50) > 0 { drain(index) }
                }
                break
            }
            var descriptors = (0..<2).map { pollfd(fd: open[$0] ? fds[$0] : -1, events: Int16(POLLIN), revents: 0) }
            // Short steps while the command runs: its exit is noticed within milliseconds.
            let ready = descriptors.withUnsafeMutableBufferPointer { poll($0.baseAddress, 2, exited ? 50 : 5) }
            if ready > 0 {
                for index in 0..<2 where descriptors[index].revents != 0 { drain(index) }
            }
        }
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        return Outcome(
            exitCode: timedOut || signaled ? nil : Int((status >> 8) & 0xff),
            signal: signaled ? Int(status & 0x7f) : nil, timedOut: timedOut, stdoutBytes: totals[0],
            stderrBytes: totals[1], stdoutDigest: hashers[0].finalize(), stderrDigest: hashers[1].finalize())
    }
}

struct ExecFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
