import FixityAccess
import FixityCore
import FixityStore
import FixityTrust
import Foundation
import GRDB

/// Access windows in the embedded store (docs/access.md): asked for, approved by others, open
/// for their TTL, ended by a key or the clock. Each step and its ledger entry in one transaction.
extension LocalFleet {
    /// A window not approved within this long after it was asked for lapses.
    static let pendingLifetime: TimeInterval = 3600

    func requestWindow(_ request: AccessWindowRequest, by key: APIKeyRecord) async throws -> AccessWindowView {
        let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.utf8.count <= AccessLimits.maximumReason else {
            throw APIFailure.badInput("reason: say why, in 1-\(AccessLimits.maximumReason) bytes")
        }
        guard request.hosts.count <= AccessLimits.maximumHosts, Set(request.hosts).count == request.hosts.count else {
            throw APIFailure.badInput("hosts: at most \(AccessLimits.maximumHosts), each once")
        }
        for name in request.hosts where !HostName.isValid(name) {
            throw APIFailure.badInput("host name '\(name.prefix(80))' is not a host name")
        }
        guard request.ttlSeconds >= 60 else { throw APIFailure.badInput("ttl must be at least 1m") }
        return try await write { db in
            let (rules, policy) = try Self.accessRules(db, store: store, env: request.env)
            guard request.ttlSeconds <= rules.maxTTLSeconds else {
                throw APIFailure.badInput(
                    "ttl \(HumanDuration.describe(request.ttlSeconds)) is over environments.\(request.env).access.max_ttl (\(HumanDuration.describe(rules.maxTTLSeconds)))"
                )
            }
            var covered = [(keyID: String, name: String)]()
            if request.hosts.isEmpty {
                covered = try Row.fetchAll(
                    db, sql: "SELECT key_id, name FROM hosts WHERE env = ? AND revoked_at IS NULL ORDER BY name",
                    arguments: [request.env]
                ).map { ($0["key_id"], $0["name"]) }
                guard !covered.isEmpty else {
                    throw APIFailure(.conflict, .conflict, "environment \(request.env) has no enrolled hosts")
                }
            } else {
                for name in request.hosts {
                    guard
                        let row = try Row.fetchOne(
                            db, sql: "SELECT key_id, env, revoked_at FROM hosts WHERE \(LocalFleet.currentByName)",
                            arguments: [name]),
                        row["env"] as String == request.env, row["revoked_at"] as String? == nil
                    else {
                        throw APIFailure.badInput("no enrolled host '\(name)' in environment \(request.env)")
                    }
                    covered.append((row["key_id"], name))
                }
            }
            let now = store.clock.timestamp()
            try db.execute(
                sql: """
                    INSERT INTO access_windows (env, reason, ttl_seconds, requester, requester_key, approvals_needed,
                        after, policy, state, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)
                    """,
                arguments: [
                    request.env, reason, request.ttlSeconds, key.name, key.id, rules.approvals, rules.after.rawValue,
                    policy.description, now,
                ])
            let id = db.lastInsertedRowID
            for host in covered {
                try db.execute(
                    sql: "INSERT INTO access_window_hosts (window_id, key_id, name) VALUES (?, ?, ?)",
                    arguments: [id, host.keyID, host.name])
            }
            try store.record(
                db, action: .accessRequest, subject: Self.subject(id),
                details: [
                    "env": request.env, "hosts": covered.map(\.name).joined(separator: ","), "reason": reason,
                    "ttl_seconds": String(request.ttlSeconds), "by": key.name, "key": key.id,
                    "approvals": String(rules.approvals), "after": rules.after.rawValue, "policy": policy.description,
                ])
            return try Self.windowView(db, id: id, now: store.clock.now(), detailed: false)!
        }
    }

    /// An approver's approve or deny; the approval that reaches the threshold opens the window.
    func decide(window id: Int64, approve: Bool, reason: String?, by key: APIKeyRecord) async throws
        -> AccessWindowView
    {
        if let reason, reason.utf8.count > AccessLimits.maximumReason {
            throw APIFailure.badInput("reason over \(AccessLimits.maximumReason) bytes")
        }
        if !approve && (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw APIFailure.badInput("a denial says why (--reason)")
        }
        return try await write { db in
            let now = store.clock.now()
            let window = try Self.windowRow(db, id)
            let env: String = window["env"]
            let state = Self.effectiveState(window, now: now)
            guard state == "pending" else {
                throw APIFailure(
                    .conflict, .conflict,
                    "window \(id) is \(state): approvals count only while a window is pending; ask for a new window")
            }
            let requester: String = window["requester"]
            guard key.name != requester else {
                throw APIFailure.forbidden(
                    "key '\(key.name)' asked for window \(id): a requester never approves their own window")
            }
            let (rules, _) = try Self.accessRules(db, store: store, env: env)
            guard rules.approvers.contains(key.name) else {
                throw APIFailure.forbidden(
                    "key '\(key.name)' is not among environments.\(env).access.approvers (\(rules.approvers.joined(separator: ", ")))"
                )
            }
            if try Bool.fetchOne(
                db, sql: "SELECT 1 FROM access_approvals WHERE window_id = ? AND approver = ?",
                arguments: [id, key.name]) == true
            {
                throw APIFailure(.conflict, .conflict, "'\(key.name)' already gave their say on window \(id)")
            }
            let at = Instant(now).description
            try db.execute(
                sql:
                    "INSERT INTO access_approvals (window_id, approver, key_id, decision, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [id, key.name, key.id, approve ? "approve" : "deny", reason, at])
            try store.record(
                db, action: approve ? .accessApprove : .accessDeny, subject: Self.subject(id),
                details: ["env": env, "by": key.name, "key": key.id, "reason": reason ?? LedgerDetail.absent])
            if !approve {
                try db.execute(
                    sql:
                        "UPDATE access_windows SET state = 'denied', ended_at = ?, ended_by = ?, end_reason = ? WHERE id = ?",
                    arguments: [at, key.name, reason, id])
            } else {
                let approvals =
                    try Int.fetchOne(
                        db, sql: "SELECT COUNT(*) FROM access_approvals WHERE window_id = ? AND decision = 'approve'",
                        arguments: [id]) ?? 0
                // The threshold asked for at the request, or the policy's now if that is higher.
                let needed = max(window["approvals_needed"] as Int, rules.approvals)
                if approvals >= needed {
                    let ttl: Int = window["ttl_seconds"]
                    let expires = Instant(now.addingTimeInterval(Double(ttl))).description
                    try db.execute(
                        sql: "UPDATE access_windows SET state = 'open', opened_at = ?, expires_at = ? WHERE id = ?",
                        arguments: [at, expires, id])
                    let approvers = try String.fetchAll(
                        db,
                        sql:
                            "SELECT approver FROM access_approvals WHERE window_id = ? AND decision = 'approve' ORDER BY at",
                        arguments: [id])
                    try store.record(
                        db, action: .accessOpen, subject: Self.subject(id),
                        details: [
                            "env": env, "expires_at": expires, "approvers": approvers.joined(separator: ","),
                            "requester": requester,
                        ])
                }
            }
            return try Self.windowView(db, id: id, now: now, detailed: false)!
        }
    }

    /// Ends a pending or open window now (the requester, an approver or an admin).
    func closeWindow(_ id: Int64, reason: String?, by key: APIKeyRecord) async throws -> AccessWindowView {
        if let reason, reason.utf8.count > AccessLimits.maximumReason {
            throw APIFailure.badInput("reason over \(AccessLimits.maximumReason) bytes")
        }
        return try await write { db in
            let now = store.clock.now()
            let window = try Self.windowRow(db, id)
            let env: String = window["env"]
            let state = Self.effectiveState(window, now: now)
            guard state == "pending" || state == "open" else {
                throw APIFailure(.conflict, .conflict, "window \(id) is already \(state)")
            }
            let rules = try? Self.accessRules(db, store: store, env: env).0
            guard
                key.name == window["requester"] as String || rules?.approvers.contains(key.name) == true
                    || key.grantedScopes.contains(.admin)
            else {
                throw APIFailure.forbidden("key '\(key.name)' neither asked for window \(id) nor may approve it")
            }
            try Self.end(
                db, store: store, id: id, env: env, state: "closed", by: key.name,
                reason: reason ?? "closed by \(key.name)", at: now)
            return try Self.windowView(db, id: id, now: now, detailed: false)!
        }
    }

    /// Ends windows whose TTL passed and requests never approved in time; true if any ended.
    func expireWindows() async throws -> Bool {
        // Four times a second: a read first, the write lock only when something is due.
        let due = try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM access_windows WHERE state IN ('pending', 'open')")
                .contains { Self.effectiveState($0, now: store.clock.now()) == "expired" }
        }
        guard due else { return false }
        return try await write { db in
            let now = store.clock.now()
            var ended = false
            for row in try Row.fetchAll(db, sql: "SELECT * FROM access_windows WHERE state IN ('pending', 'open')")
            where Self.effectiveState(row, now: now) == "expired" {
                let open = row["state"] as String == "open"
                try Self.end(
                    db, store: store, id: row["id"], env: row["env"], state: "expired", by: "fixity",
                    reason: open ? "its TTL ran out" : "not approved within \(Int(Self.pendingLifetime / 60)) minutes",
                    at: now)
                ended = true
            }
            return ended
        }
    }

    func windows(env: String?, openOnly: Bool) async throws -> [AccessWindowView] {
        try await read { db in
            let now = store.clock.now()
            let ids = try Int64.fetchAll(
                db,
                sql: """
                    SELECT id FROM access_windows WHERE (? IS NULL OR env = ?)
                        AND (? = 0 OR state IN ('pending', 'open')) ORDER BY id DESC LIMIT 500
                    """,
                arguments: [env, env, openOnly ? 1 : 0])
            return try ids.compactMap { try Self.windowView(db, id: $0, now: now, detailed: false) }
                .filter { !openOnly || $0.state == "pending" || $0.state == "open" }
        }
    }

    func window(_ id: Int64) async throws -> AccessWindowView {
        try await read { db in
            guard let view = try Self.windowView(db, id: id, now: store.clock.now(), detailed: true) else {
                throw APIFailure.notFound("no access window \(id)")
            }
            return view
        }
    }

    // MARK: shared

    static func subject(_ id: Int64) -> String { "window:\(id)" }

    /// The access rules of `env` in the signed policy in force; 409 when there are none.
    static func accessRules(_ db: Database, store: Store, env: String) throws -> (AccessRules, Digest) {
        guard let signed = try LocalControlPlane.signedPolicy(db, store: store) else {
            throw APIFailure(.conflict, .conflict, "no signed policy is in force: no access window can open")
        }
        let policy = try signed.policy()
        guard let environment = policy.environments[env] else {
            throw APIFailure(
                .conflict, .conflict, "the policy \(signed.digest.short) in force does not define environment \(env)")
        }
        guard let rules = environment.access else {
            throw APIFailure(
                .conflict, .conflict,
                "the policy \(signed.digest.short) in force has no [environments.\(env).access]: no window can open onto \(env)"
            )
        }
        return (rules, signed.digest)
    }

    static func windowRow(_ db: Database, _ id: Int64) throws -> Row {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM access_windows WHERE id = ?", arguments: [id]) else {
            throw APIFailure.notFound("no access window \(id)")
        }
        return row
    }

    /// The stored state, with the clock applied: an open window past its expiry, and a request
    /// pending past its lifetime, are expired even before the engine records it.
    static func effectiveState(_ row: Row, now: Date) -> String {
        let state: String = row["state"]
        switch state {
        case "open":
            guard let expires = (row["expires_at"] as String?).flatMap({ Instant(rfc3339: $0)?.date }),
                expires > now
            else { return "expired" }
            return state
        case "pending":
            guard let asked = Instant(rfc3339: row["requested_at"] as String)?.date,
                now.timeIntervalSince(asked) < pendingLifetime
            else { return "expired" }
            return state
        default: return state
        }
    }

    /// Ends a window: its state, commands not finished cancelled, and the `access-close` entry.
    static func end(
        _ db: Database, store: Store, id: Int64, env: String, state: String, by: String, reason: String, at now: Date
    ) throws {
        let at = Instant(now).description
        try db.execute(
            sql: "UPDATE access_windows SET state = ?, ended_at = ?, ended_by = ?, end_reason = ? WHERE id = ?",
            arguments: [state, at, by, reason, id])
        try db.execute(
            sql: """
                UPDATE access_execs SET state = 'cancelled', finished_at = ?,
                    reason = 'the window ended before the host finished it' WHERE window_id = ? AND state IN ('queued', 'running')
                """,
            arguments: [at, id])
        try store.record(
            db, action: .accessClose, subject: subject(id),
            details: [
                "env": env, "state": state, "by": by, "reason": String(reason.prefix(AccessLimits.maximumReason)),
            ])
    }

    static func windowView(_ db: Database, id: Int64, now: Date, detailed: Bool) throws -> AccessWindowView? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM access_windows WHERE id = ?", arguments: [id]) else {
            return nil
        }
        let hosts = try String.fetchAll(
            db, sql: "SELECT name FROM access_window_hosts WHERE window_id = ? ORDER BY name", arguments: [id])
        let approvals = try Row.fetchAll(
            db, sql: "SELECT * FROM access_approvals WHERE window_id = ? ORDER BY at, approver", arguments: [id]
        ).map {
            AccessApprovalView(approver: $0["approver"], decision: $0["decision"], reason: $0["reason"], at: $0["at"])
        }
        var execs: [ExecView]?
        var outcomes: [AccessHostOutcome]?
        var changes: [AccessChangeView]?
        var refusals: [ExecRefusalView]?
        if detailed {
            refusals = try Row.fetchAll(
                db, sql: "SELECT time, details FROM history WHERE subject = ? AND action = ? ORDER BY seq LIMIT 1000",
                arguments: [subject(id), LedgerAction.accessExecRefused.rawValue]
            ).map { row in
                let details =
                    (try? JSONDecoder().decode([String: String].self, from: Data((row["details"] as String).utf8)))
                    ?? [:]
                return ExecRefusalView(
                    at: row["time"], by: details["by"] ?? "-", host: details["host"] ?? "-",
                    argv: decodeArgv(details["argv"] ?? "[]"), reason: details["reason"] ?? "-")
            }
            execs = try Int64.fetchAll(
                db, sql: "SELECT id FROM access_execs WHERE window_id = ? ORDER BY id", arguments: [id]
            ).compactMap { try execView(db, id: $0, stdoutFrom: 0, stderrFrom: 0) }
            let opened = row["opened_at"] as String? != nil
            outcomes = try Row.fetchAll(
                db, sql: "SELECT * FROM access_window_hosts WHERE window_id = ? ORDER BY name", arguments: [id]
            ).map {
                AccessHostOutcome(
                    host: $0["name"], outcome: $0["outcome"] ?? (opened ? "waiting" : "not opened"),
                    changeCount: $0["change_count"], proposal: $0["proposal"], reportedAt: $0["reported_at"],
                    detail: $0["detail"])
            }
            changes = try Row.fetchAll(
                db, sql: "SELECT * FROM access_changes WHERE window_id = ? ORDER BY host, path", arguments: [id]
            ).map {
                AccessChangeView(
                    host: $0["host"], path: $0["path"], kind: $0["kind"], before: $0["before"], after: $0["after"])
            }
        }
        let state = effectiveState(row, now: now)
        var drifted: [String]?
        if state == "pending" || state == "open" {
            drifted = try String.fetchAll(
                db,
                sql: """
                    SELECT h.name FROM access_window_hosts w JOIN hosts h ON h.key_id = w.key_id
                    WHERE w.window_id = ? AND h.drift != '[]' ORDER BY h.name
                    """, arguments: [id])
        }
        var view = AccessWindowView(
            id: id, env: row["env"], hosts: hosts, reason: row["reason"], ttlSeconds: row["ttl_seconds"],
            requester: row["requester"], state: state, after: row["after"],
            approvalsNeeded: row["approvals_needed"], approvals: approvals, requestedAt: row["requested_at"],
            openedAt: row["opened_at"], expiresAt: row["expires_at"], endedAt: row["ended_at"],
            endedBy: row["ended_by"],
            endReason: row["end_reason"], execs: execs, outcomes: outcomes, changes: changes, refusals: refusals)
        if let drifted, !drifted.isEmpty { view.driftedHosts = drifted }
        return view
    }
}
