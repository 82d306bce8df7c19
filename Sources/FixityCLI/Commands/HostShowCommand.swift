import ArgumentParser
import FixityCore
import FixityServer
import Foundation

extension HostCommand {
    /// `fixity host show NAME`: one host whole — its state, and its newest reports as it signed
    /// them: deployments and health results, refusals, drift with what its repairs kept.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "One host's state and its newest reports, with the evidence its repairs kept (a release:read key).")
        @Argument(help: "The host's name.") var name: String
        @Option(help: "How many of its newest reports (1-500).") var limit = 20
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                guard HostName.isValid(name) else { throw CLIError("'\(name)' is not a host name") }
                guard (1...500).contains(limit) else { throw CLIError("--limit: 1 to 500") }
                let history = try connection.session { client -> HostHistory in
                    try await client.document(.GET, "/v1/hosts/\(name)?limit=\(limit)")
                }
                if global.json { return try Output.json(history) }
                HostTable.print([history.host])
                if history.reports.isEmpty { return Output.line("  no reports yet") }
                for received in history.reports {
                    Output.line(Self.describe(received))
                }
            }
        }

        static func describe(_ received: HostHistory.Received) -> String {
            let report = received.report
            var lines = ["\(received.receivedAt)  \(report.event.rawValue)"]
            if let release = report.release ?? report.attempted { lines[0] += "  release \(release)" }
            if let window = report.window { lines[0] += "  window \(window)" }
            if let outcome = report.outcome { lines[0] += "  \(outcome)" }
            if let health = report.health {
                lines.append("    health: \(health.result)" + (health.exitCode.map { " (exit \($0))" } ?? ""))
            }
            if let reason = report.reason { lines.append("    \(reason)") }
            for change in report.changes {
                lines.append(
                    "    \(change.kind) \(change.path): \(change.expected ?? "-") → \(change.found ?? "-")")
            }
            if report.changeCount > report.changes.count {
                lines.append("    … \(report.changeCount - report.changes.count) more change(s)")
            }
            if let evidence = report.evidence { lines.append("    evidence kept on the host: \(evidence)") }
            for file in report.evidenceFiles ?? [] {
                lines.append(
                    "    kept \(file.kind) \(file.path) \(file.mode) \(file.size) B \(file.digest ?? file.target ?? "")"
                        + (file.note.map { " (\($0))" } ?? ""))
            }
            return lines.joined(separator: "\n")
        }
    }
}
