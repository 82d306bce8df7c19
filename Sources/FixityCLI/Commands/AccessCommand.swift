import ArgumentParser
import FixityCore
import FixityServer
import Foundation

/// `fixity access request|approve|deny|list|show|close`: time-boxed, approved access to an
/// environment's hosts instead of a shell (docs/access.md).
struct AccessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access", abstract: "Ask for, approve and close access windows onto production hosts.",
        subcommands: [Request.self, Approve.self, Deny.self, List.self, Show.self, Close.self])

    struct Request: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask for a window (needs access:request:ENV); it opens when enough approvers approve.")
        @Option(help: "The environment.") var env: String
        @Option(name: .customLong("host"), help: "A host the window covers (repeatable; default: all of ENV's hosts).")
        var hosts: [String] = []
        @Option(help: "Why: the incident, the ticket.") var reason: String
        @Option(help: "How long the window stays open once approved (e.g. 30m; at most the policy's max_ttl).")
        var ttl: String
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let seconds = try HumanDuration.seconds(ttl, maximum: AccessRules.longestTTL, what: "--ttl")
                let body = AccessWindowRequest(env: env, hosts: hosts, reason: reason, ttlSeconds: seconds)
                let view = try connection.session { client -> AccessWindowView in
                    try await client.document(.POST, "/v1/access/windows", body: body)
                }
                if global.json { return try Output.json(view) }
                Output.line(String(view.id))
                Output.note(
                    "window \(view.id) onto \(view.env) (\(view.hosts.joined(separator: ", "))) is pending: it needs \(view.approvalsNeeded) approval(s) (fixity access approve \(view.id))"
                )
                if let drifted = view.driftedHosts {
                    Output.note(
                        "warning: \(drifted.joined(separator: ", ")) had drifted before this window: that drift is reported as drift before it, never as the window's change"
                    )
                }
            }
        }
    }

    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a pending window (needs access:approve:ENV and a place among the policy's approvers).")
        @Argument(help: "The window's id.") var id: Int64
        @Option(help: "A note kept with the approval.") var reason: String?
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try AccessCommand.decide(id, verb: "approve", reason: reason, connection, global)
        }
    }

    struct Deny: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deny a pending window: it ends, unopened.")
        @Argument(help: "The window's id.") var id: Int64
        @Option(help: "Why (required).") var reason: String
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try AccessCommand.decide(id, verb: "deny", reason: reason, connection, global)
        }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End a window now (its requester or an approver); its hosts then collect what it left.")
        @Argument(help: "The window's id.") var id: Int64
        @Option(help: "Why.") var reason: String?
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try AccessCommand.decide(id, verb: "close", reason: reason, connection, global)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List windows, newest first.")
        @Option(help: "Only this environment's.") var env: String?
        @Flag(help: "Only pending and open windows.") var open = false
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                var query = [String]()
                if let env {
                    query.append("env=\(env.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
                }
                if open { query.append("open=true") }
                let path = "/v1/access/windows" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
                let views = try connection.session { client -> [AccessWindowView] in
                    try await client.document(.GET, path)
                }
                if global.json { return try Output.json(views) }
                var rows = [["ID", "ENV", "STATE", "REQUESTER", "APPROVALS", "EXPIRES", "HOSTS", "REASON"]]
                for view in views {
                    let approved = view.approvals.filter { $0.decision == "approve" }.count
                    rows.append([
                        String(view.id), view.env, view.state, view.requester, "\(approved)/\(view.approvalsNeeded)",
                        view.expiresAt ?? "-", view.hosts.joined(separator: ","),
                        TerminalText.escaped(String(view.reason.prefix(60))),
                    ])
                }
                Output.line(Output.table(rows))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A window whole: approvals, every command and its output, and what it left on each host.")
        @Argument(help: "The window's id.") var id: Int64
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let view = try connection.session { client -> AccessWindowView in
                    try await client.document(.GET, "/v1/access/windows/\(id)")
                }
                if global.json { return try Output.json(view) }
                Output.line(AccessCommand.summary(view))
                Output.line("  reason:    \(TerminalText.escaped(view.reason))")
                Output.line(
                    "  requested: \(view.requestedAt) by \(view.requester), ttl \(HumanDuration.describe(view.ttlSeconds)), after = \(view.after)"
                )
                for approval in view.approvals {
                    Output.line(
                        "  \(approval.decision == "approve" ? "approved" : "denied"):  \(approval.at) by \(approval.approver)"
                            + (approval.reason.map { " (\(TerminalText.escaped($0)))" } ?? ""))
                }
                if let opened = view.openedAt { Output.line("  opened:    \(opened), until \(view.expiresAt ?? "-")") }
                if let ended = view.endedAt {
                    Output.line(
                        "  ended:     \(ended) by \(view.endedBy ?? "-"): \(TerminalText.escaped(view.endReason ?? "-"))"
                    )
                }
                for exec in view.execs ?? [] {
                    let how =
                        exec.timedOut
                        ? "timed out"
                        : exec.exitCode.map { "exit \($0)" } ?? exec.signal.map { "signal \($0)" } ?? exec.state
                    Output.line(
                        "  $ [\(exec.id) on \(exec.host)] \(TerminalText.escaped(AccessRules.shellQuoted(exec.argv)))  → \(how)"
                            + (exec.reason.map { " (\(TerminalText.escaped($0)))" } ?? ""))
                    for (name, text, total, kept) in [
                        ("stdout", exec.stdout, exec.stdoutBytes, exec.stdoutKept),
                        ("stderr", exec.stderr, exec.stderrBytes, exec.stderrKept),
                    ] where total > 0 {
                        // A summary, not the whole output (`--json` has all that was kept).
                        let bytes = (Base64.decode(text) ?? []).prefix(16 * 1024)
                        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n").prefix(50) {
                            Output.line(
                                "      \(name == "stderr" ? "! " : "")\(TerminalText.escaped(String(line.prefix(300))))"
                            )
                        }
                        if total > Int64(kept) {
                            Output.line("      (\(total - Int64(kept)) more \(name) bytes counted, not kept)")
                        }
                    }
                }
                for refusal in view.refusals ?? [] {
                    Output.line(
                        "  refused: \(refusal.at) \(refusal.by) on \(refusal.host): \(TerminalText.escaped(AccessRules.shellQuoted(refusal.argv))) — \(TerminalText.escaped(refusal.reason))"
                    )
                }
                for outcome in view.outcomes ?? [] {
                    Output.line(
                        "  host \(outcome.host): \(outcome.outcome), \(outcome.changeCount) change(s)"
                            + (outcome.proposal.map { ", proposed as \($0)" } ?? "")
                            + (outcome.detail.map { " — \(TerminalText.escaped($0))" } ?? ""))
                }
                for change in view.changes ?? [] {
                    Output.line(
                        "    \(change.kind) \(TerminalText.escaped(change.path)) on \(change.host): \(change.before ?? "-") → \(change.after ?? "-")"
                    )
                }
            }
        }
    }

    /// approve, deny or close: the window as it is now, printed.
    static func decide(
        _ id: Int64, verb: String, reason: String?, _ connection: ServerConnectionOptions, _ global: GlobalOptions
    ) throws {
        try runReportingFailures {
            let view = try connection.session { client -> AccessWindowView in
                try await client.document(
                    .POST, "/v1/access/windows/\(id)/\(verb)", body: AccessDecisionBody(reason: reason))
            }
            if global.json { return try Output.json(view) }
            Output.line(summary(view))
        }
    }

    static func summary(_ view: AccessWindowView) -> String {
        let approved = view.approvals.filter { $0.decision == "approve" }.count
        return
            "window \(view.id) onto \(view.env) (\(view.hosts.joined(separator: ", "))): \(view.state), \(approved)/\(view.approvalsNeeded) approvals"
            + (view.state == "open" ? ", until \(view.expiresAt ?? "-")" : "")
            + (view.driftedHosts.map {
                "\nwarning: \($0.joined(separator: ", ")) had drifted before this window: that drift is reported as drift before it, never as the window's change (fixity host show NAME)"
            } ?? "")
    }
}
