import ArgumentParser
import FixityCore
import FixityServer
import Foundation

/// `fixity exec --env ENV --host NAME -- CMD ARG…`: a command on a host, through the server and
/// the host's agent, under the caller's open window; its output comes back as it is produced,
/// and `fixity exec` exits with the command's own exit code (124 at its timeout, 128+N when a
/// signal ended it, 2 when it was refused).
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command on a host under your open access window.",
        discussion: """
            Needs access:request:ENV and an open window of yours that covers the host (fixity access request). The \
            command is argv, not a shell line: wrap it in sh -c '…' for pipes. Its output (1 MiB per stream kept, the \
            rest counted) and exit code are kept by the server; the command, who ran it, the window, the exit code \
            and the output's digests are a ledger entry.
            """)
    @Option(help: "The environment.") var env: String
    @Option(help: "The host to run on.") var host: String
    @Option(help: "The window to run under (default: your open window that covers the host).") var window: Int64?
    @Option(help: "Kill the command after this long (default 60s; never past the window's end).") var timeout = "60s"
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).") var command: [String]
    @OptionGroup var connection: ServerConnectionOptions

    func run() throws {
        var exitCode: Int32 = 0
        try runReportingFailures {
            let argv = command.first == "--" ? Array(command.dropFirst()) : command
            guard !argv.isEmpty else { throw CLIError("no command: fixity exec --env ENV --host NAME -- CMD ARG…") }
            let seconds = try HumanDuration.seconds(timeout, maximum: AccessLimits.maximumTimeout, what: "--timeout")
            let request = ExecRequest(env: env, host: host, window: window, argv: argv, timeoutSeconds: seconds)
            let final = try connection.session { client -> ExecView in
                var view: ExecView = try await client.document(.POST, "/v1/exec", body: request)
                var stdoutAt = 0
                var stderrAt = 0
                let asked = Date()
                var told = false
                while true {
                    if !told, view.state == "queued", Date().timeIntervalSince(asked) > 10 {
                        // An agent takes a command within milliseconds when it is connected.
                        Output.note("\(request.host) has not taken the command yet (is its agent running?); waiting")
                        told = true
                    }
                    view = try await client.document(
                        .GET, "/v1/exec/\(view.id)?stdout_from=\(stdoutAt)&stderr_from=\(stderrAt)&wait=30")
                    let out = Base64.decode(view.stdout) ?? []
                    let err = Base64.decode(view.stderr) ?? []
                    if !out.isEmpty { StandardStream.output.write(Data(out)) }
                    if !err.isEmpty { StandardStream.error.write(Data(err)) }
                    stdoutAt += out.count
                    stderrAt += err.count
                    if view.finished { return view }
                }
            }
            for (name, total, kept) in [
                ("stdout", final.stdoutBytes, final.stdoutKept), ("stderr", final.stderrBytes, final.stderrKept),
            ] where total > Int64(kept) {
                Output.note("\(name): \(total - Int64(kept)) more bytes produced on \(host), counted but not kept")
            }
            switch final.state {
            case "done":
                if final.timedOut {
                    Output.note("killed at its timeout (\(timeout)) on \(host)")
                    exitCode = 124
                } else if let signal = final.signal {
                    Output.note("ended by signal \(signal) on \(host)")
                    exitCode = Int32(128 + signal)
                } else {
                    exitCode = Int32(final.exitCode ?? 2)
                }
            default:
                throw CLIError("command \(final.id) \(final.state) on \(host): \(final.reason ?? "-")")
            }
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}
