import Foundation
import Glibc

/// Runs a hook or health command the way DESIGN.md says: one string given to `/bin/sh -c`, in the
/// new tree, with `FIXITY_RELEASE`, `FIXITY_ROOT`, `FIXITY_ENV` set, bounded by a timeout after
/// which its whole process group is killed.
public struct HookRun: Sendable, Encodable {
    public let command: String
    public let exitCode: Int32?
    public let timedOut: Bool
    public let seconds: Double
    /// The last 4 KiB of stdout and stderr, interleaved.
    public let outputTail: String

    public var passed: Bool { !timedOut && exitCode == 0 }

    enum CodingKeys: String, CodingKey {
        case command, exitCode = "exit_code", timedOut = "timed_out", seconds, outputTail = "output_tail", passed
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(command, forKey: .command)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(timedOut, forKey: .timedOut)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(outputTail, forKey: .outputTail)
        try c.encode(passed, forKey: .passed)
    }

    init(command: String, exitCode: Int32?, timedOut: Bool, seconds: Double, outputTail: String) {
        self.command = command
        self.exitCode = exitCode
        self.timedOut = timedOut
        self.seconds = seconds
        self.outputTail = outputTail
    }

    public static func run(_ command: String, in directory: String, environment: [String: String], timeout: Double) throws -> HookRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let outputPath = "\(NSTemporaryDirectory())/fixity-hook-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: outputPath, contents: nil) else {
            throw HookError(message: "cannot create \(outputPath) for the hook's output")
        }
        defer { unlink(outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        let start = Date()
        do {
            try process.run()
        } catch {
            throw HookError(message: "cannot run /bin/sh for '\(command)': \(error)")
        }
        var timedOut = false
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            // Foundation starts the child in its own process group: kill the hook and its children.
            kill(-process.processIdentifier, SIGKILL)
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
        }
        try? output.close()
        let seconds = Date().timeIntervalSince(start)
        let tail = Self.tail(of: outputPath, bytes: 4096)
        let code: Int32? = timedOut ? nil : (process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus)
        return HookRun(command: command, exitCode: code, timedOut: timedOut, seconds: seconds, outputTail: tail)
    }

    static func tail(of path: String, bytes: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > UInt64(bytes) ? size - UInt64(bytes) : 0)
        return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    }
}

public struct HookError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
