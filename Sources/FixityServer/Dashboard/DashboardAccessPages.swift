import FixityAccess
import FixityCore
import Foundation
import Hummingbird

/// Access windows (docs/access.md): pending requests with approve and deny for approvers,
/// open windows with their commands and output, and the ones that ended. Read as
/// `GET /v1/access/windows` answers a key (the windows it may read); decided as
/// `POST /v1/access/windows/{id}/approve|deny` (the scope, a place among the policy's
/// approvers, never one's own request).
enum DashboardAccessPages {
    static let endedShown = 50

    struct Exec {
        let command: String
        let host: String
        let by: String
        let state: String
        let exit: String?
        let stdout: String?
        let stderr: String?
    }
    struct Window {
        let id: Int64
        let env: String
        let hosts: String
        let ttl: String
        let requester: String
        let reason: String
        let requested: Moment?
        let expires: Moment?
        let endedAt: Moment?
        let approvals: Int
        let needed: Int
        let approvers: String?
        let after: String
        let state: String
        let why: String?
        let mayDecide: Bool
        let execs: [Exec]
    }
    struct Page {
        let chrome: Chrome
        let csrf: String
        let problem: String?
        let pending: [Window]
        let open: [Window]
        let ended: [Window]
        let hasEnded: Bool
        let rendered: String
    }

    static func add(to pages: RouterGroup<ServerContext>, dashboard: Dashboard) {
        pages.get("access") { _, context in
            let key = try context.requireKey()
            let chrome = try context.requireDashboard().chrome
            let now = dashboard.now
            let windows = try AccessRoutes.filtered(
                try await dashboard.plane.fleet.windows(env: nil, openOnly: false), for: context)
            var open: [Window] = []
            for window in windows where window.state == "open" {
                open.append(shown(try await dashboard.plane.fleet.window(window.id), key: key, now: now))
            }
            let ended = windows.filter { !["pending", "open"].contains($0.state) }
                .sorted { $0.id > $1.id }.prefix(endedShown).map { shown($0, key: key, now: now) }
            return dashboard.page(
                Page(
                    chrome: chrome, csrf: chrome.csrf, problem: nil,
                    pending: windows.filter { $0.state == "pending" }.map { shown($0, key: key, now: now) },
                    open: open, ended: ended, hasEnded: !ended.isEmpty, rendered: now.wholeSecondsText),
                "access")
        }

        for (verb, approve) in [("approve", true), ("deny", false)] {
            pages.post("access/{id}/\(verb)") { _, context in
                let text = try ReleaseRoutes.pathParameter("id", context)
                guard let id = Int64(text), id > 0 else {
                    throw APIFailure.badInput("'\(text.prefix(40))' is not a window id")
                }
                let window = try await dashboard.plane.fleet.window(id)
                try context.require(.accessApprove(env: window.env))
                let reason = try context.requireDashboard().form["reason"].flatMap { $0.isEmpty ? nil : $0 }
                _ = try await dashboard.plane.fleet.decide(
                    window: id, approve: approve, reason: reason, by: try context.requireKey())
                return DashboardResponse.redirect("/dashboard/access#window-\(id)")
            }
        }
    }

    /// A stream's kept bytes (base64 in the view) as text, saying what was not kept.
    static func output(_ base64: String, kept: Int, total: Int64) -> String? {
        guard !base64.isEmpty, let bytes = Base64.decode(base64) else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        if total > Int64(kept) { text += "\n… \(total - Int64(kept)) more bytes were counted and hashed, not kept" }
        return text
    }

    static func shown(_ window: AccessWindowView, key: APIKeyRecord, now: Instant) -> Window {
        let approvals = window.approvals.filter { $0.decision == "approve" }
        return Window(
            id: window.id, env: window.env, hosts: window.hosts.joined(separator: ", "),
            ttl: Moment.relative(Int64(window.ttlSeconds)).replacingOccurrences(of: "in ", with: ""),
            requester: window.requester, reason: window.reason, requested: Moment(window.requestedAt, now: now),
            expires: Moment(window.expiresAt, now: now), endedAt: Moment(window.endedAt, now: now),
            approvals: approvals.count, needed: window.approvalsNeeded,
            approvers: approvals.isEmpty ? nil : approvals.map(\.approver).joined(separator: ", "), after: window.after,
            state: window.state, why: window.endReason,
            mayDecide: window.state == "pending" && window.requester != key.name
                && APIKeyScope.accessApprove(env: window.env).isGranted(by: key.grantedScopes),
            execs: (window.execs ?? []).map { exec in
                Exec(
                    command: exec.argv.joined(separator: " "), host: exec.host, by: exec.requestedBy, state: exec.state,
                    exit: exec.exitCode.map(String.init) ?? exec.signal.map { "signal \($0)" },
                    stdout: output(exec.stdout, kept: exec.stdoutKept, total: exec.stdoutBytes),
                    stderr: output(exec.stderr, kept: exec.stderrKept, total: exec.stderrBytes))
            })
    }
}
