import FixityCore
import FixityServer
import Foundation

/// The demo's 3 a.m. incident (docs/access.md): no shell on the host — a window asked for by the
/// on-call key, approved by two others, commands run through it (one refused by the policy's
/// deny list), a hot-fix made under it, and at its end the change listed and reverted.
enum DemoAccess {
    struct Outcome {
        let opened: Bool
        let ran: Bool
        let refused: Bool
        let reverted: Bool
    }

    /// The keys: the on-call engineer's and two approvers' (`keys` by name).
    static func run(url: String, keys: [String: String], hostRoot: String, say: @escaping (String) -> Void)
        async throws -> Outcome
    {
        func session<T: Sendable>(_ who: String, _ body: @escaping @Sendable (ServerClient) async throws -> T)
            async throws -> T
        {
            try await ServerClient.session(url: url, key: keys[who] ?? "", body)
        }
        let asked: AccessWindowView = try await session("oncall") {
            try await $0.document(
                .POST, "/v1/access/windows",
                body: AccessWindowRequest(
                    env: "staging", hosts: ["web-2"], reason: "INC-0300: checkout answers 500", ttlSeconds: 1800))
        }
        say(
            "   fixity access request --env staging --host web-2 --reason \"INC-0300…\" --ttl 30m  ->  window \(asked.id), \(asked.state) (\(asked.approvalsNeeded) approvals, never the requester's)"
        )
        var window = asked
        for approver in ["alice", "bob"] {
            window = try await session(approver) { [id = asked.id] in
                try await $0.document(
                    .POST, "/v1/access/windows/\(id)/approve", body: AccessDecisionBody(reason: "on call"))
            }
        }
        say(
            "   fixity access approve \(asked.id)  (alice, then bob)  ->  \(window.state) until \(window.expiresAt ?? "-")"
        )
        let listing = try await exec(session, ["ls", "current"])
        let names = String(decoding: Base64.decode(listing.stdout) ?? [], as: UTF8.self)
            .split(separator: "\n").prefix(4).joined(separator: " ")
        say("   fixity exec --env staging --host web-2 -- ls current  ->  exit \(listing.exitCode ?? -1): \(names) …")
        let fix = try await exec(session, ["sh", "-c", "echo 'checkout: degraded mode' > current/banner.txt"])
        say(
            "   fixity exec … -- sh -c 'echo … > current/banner.txt'  ->  exit \(fix.exitCode ?? -1) (drift under an open window: reported, not repaired)"
        )
        var refusal = "NOT refused"
        do {
            _ = try await exec(session, ["rm", "-rf", "/srv"])
        } catch let error as ServerClientError {
            refusal = error.message
        }
        say("   fixity exec … -- rm -rf /srv  ->  refused before the host: \(refusal)")
        let _: AccessWindowView = try await session("oncall") { [id = asked.id] in
            try await $0.document(
                .POST, "/v1/access/windows/\(id)/close", body: AccessDecisionBody(reason: "mitigated"))
        }
        var shown: AccessWindowView?
        for _ in 0..<200 {
            shown = try await session("oncall") { [id = asked.id] in
                try await $0.document(.GET, "/v1/access/windows/\(id)")
            }
            if shown?.outcomes?.first?.outcome != "waiting" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let outcome = shown?.outcomes?.first
        let change = shown?.changes?.first
        let gone = !FileManager.default.fileExists(atPath: "\(hostRoot)/current/banner.txt")
        say(
            "   fixity access close \(asked.id)  ->  web-2 found \(outcome?.changeCount ?? 0) change(s) (\(change?.kind ?? "-") \(change?.path ?? "-"): \(change?.before ?? "-") -> \(change?.after.map { String($0.prefix(19)) + "…" } ?? "-")) and \(outcome?.outcome ?? "?") it: \(gone ? "gone from the live tree" : "STILL THERE")"
        )
        say(
            "   fixity access show \(asked.id)  ->  who asked, who approved, \(shown?.execs?.count ?? 0) commands with their output and exit codes; each one an access-exec ledger entry"
        )
        return Outcome(
            opened: window.state == "open", ran: listing.exitCode == 0 && fix.exitCode == 0,
            refused: refusal.contains("deny_commands"), reverted: outcome?.outcome == "reverted" && gone)
    }

    /// `fixity exec` as the CLI does it: queue the command, then read until it ended.
    private static func exec(
        _ session: (String, @escaping @Sendable (ServerClient) async throws -> ExecView) async throws -> ExecView,
        _ argv: [String]
    ) async throws -> ExecView {
        try await session("oncall") { client in
            var view: ExecView = try await client.document(
                .POST, "/v1/exec",
                body: ExecRequest(env: "staging", host: "web-2", window: nil, argv: argv, timeoutSeconds: 30))
            while !view.finished {
                view = try await client.document(.GET, "/v1/exec/\(view.id)?wait=30")
            }
            return view
        }
    }
}
