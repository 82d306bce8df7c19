import FixityAccess
import FixityCore
import FixityStore
import FixityTrust
import Foundation
import GRDB

/// Commands under a window: asked for by the window's requester (refused — and recorded —
/// without an open window covering the host, or when the policy's deny patterns match), taken
/// by the host's agent on its long poll, their output streamed back in signed pieces and kept
/// (bounded), their end a ledger entry with the output's digests.
extension LocalFleet {
    /// What `startExec` decided: the queued command, or a refusal already recorded.
    private enum ExecAdmission: Sendable {
        case queued(ExecView)
        case refused(APIFailure)
    }

    func startExec(_ request: ExecRequest, by key: APIKeyRecord) async throws -> ExecView {
        do { try ExecRequest.validate(argv: request.argv) } catch { throw APIFailure.badInput(error.message) }
        guard (1...AccessLimits.maximumTimeout).contains(request.timeoutSeconds) else {
            throw APIFailure.badInput("timeout must be 1 s to \(AccessLimits.maximumTimeout / 60) min")
        }
        let admission = try await write { db -> ExecAdmission in
            let now = store.clock.now()
            func refuse(_ failure: APIFailure, window: Int64?) throws -> ExecAdmission {
                try store.record(
                    db, action: .accessExecRefused, subject: window.map(Self.subject) ?? "window:-",
                    details: [
                        "env": request.env, "host": request.host, "argv": Self.argvText(request.argv), "by": key.name,
                        "key": key.id, "reason": failure.message,
                    ])
                return .refused(failure)
            }
            guard
                let host = try Row.fetchOne(
                    db, sql: "SELECT key_id, env, revoked_at FROM hosts WHERE \(LocalFleet.currentByName)",
                    arguments: [request.host]),
                host["env"] as String == request.env, host["revoked_at"] as String? == nil
            else {
                return try refuse(
                    APIFailure.notFound("no enrolled host '\(request.host)' in environment \(request.env)"), window: nil
                )
            }
            let hostKey: String = host["key_id"]
            let window: Row
            if let id = request.window {
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM access_windows WHERE id = ?", arguments: [id]),
                    row["env"] as String == request.env
                else {
                    return try refuse(APIFailure.notFound("no access window \(id) onto \(request.env)"), window: nil)
                }
                window = row
            } else {
                let candidates = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT w.* FROM access_windows w JOIN access_window_hosts h ON h.window_id = w.id
                        WHERE w.env = ? AND w.requester = ? AND w.state = 'open' AND h.key_id = ? ORDER BY w.id DESC
                        """,
                    arguments: [request.env, key.name, hostKey])
                guard let open = candidates.first(where: { Self.effectiveState($0, now: now) == "open" }) else {
                    return try refuse(
                        APIFailure(
                            .conflict, .conflict,
                            "no open access window of '\(key.name)' covers host \(request.host) (fixity access request)"
                        ),
                        window: nil)
                }
                window = open
            }
            let id: Int64 = window["id"]
            let state = Self.effectiveState(window, now: now)
            guard state == "open" else {
                return try refuse(
                    APIFailure(
                        .conflict, .conflict,
                        "window \(id) is \(state): commands run only in an open window (a new window needs new approvals)"
                    ),
                    window: id)
            }
            guard window["requester"] as String == key.name else {
                return try refuse(
                    APIFailure.forbidden(
                        "window \(id) was asked for by '\(window["requester"] as String)': only the requester runs commands in it"
                    ),
                    window: id)
            }
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM access_window_hosts WHERE window_id = ? AND key_id = ?",
                    arguments: [id, hostKey]) == true
            else {
                return try refuse(APIFailure.forbidden("window \(id) does not cover host \(request.host)"), window: id)
            }
            let rules: AccessRules
            do { rules = try Self.accessRules(db, store: store, env: request.env).0 } catch let failure as APIFailure {
                return try refuse(failure, window: id)
            }
            if let pattern = rules.deniedPattern(for: request.argv) {
                return try refuse(
                    APIFailure.forbidden(
                        "the command matches environments.\(request.env).access.deny_commands pattern '\(pattern)'"),
                    window: id)
            }
            try db.execute(
                sql: """
                    INSERT INTO access_execs (window_id, key_id, host, argv, timeout_seconds, requested_by, requested_key,
                        state, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)
                    """,
                arguments: [
                    id, hostKey, request.host, Self.argvText(request.argv), request.timeoutSeconds, key.name, key.id,
                    Instant(now).description,
                ])
            return .queued(try Self.execView(db, id: db.lastInsertedRowID, stdoutFrom: 0, stderrFrom: 0)!)
        }
        switch admission {
        case .queued(let view): return view
        case .refused(let failure): throw failure
        }
    }

    /// A command and its output from the given offsets, with its environment (for the scope check).
    func exec(_ id: Int64, stdoutFrom: Int, stderrFrom: Int) async throws -> (view: ExecView, env: String) {
        try await read { db in
            guard let view = try Self.execView(db, id: id, stdoutFrom: stdoutFrom, stderrFrom: stderrFrom),
                let env = try String.fetchOne(
                    db, sql: "SELECT env FROM access_windows WHERE id = ?", arguments: [view.window])
            else { throw APIFailure.notFound("no command \(id)") }
            return (view, env)
        }
    }

    /// A host's signed progress on a command it was given: the first message claims it (a
    /// command runs at most once), each later one must follow the last, the one with a result
    /// ends it.
    func acceptProgress(_ progress: ExecProgress, exec id: Int64, from host: HostRecord, arrived: SignedBody)
        async throws
    {
        try await write { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM access_execs WHERE id = ? AND key_id = ?", arguments: [id, host.keyID.hex])
            else { throw APIFailure.notFound("no command \(id) for host \(host.name)") }
            let state: String = row["state"]
            guard state == "queued" || state == "running" else {
                throw APIFailure(.conflict, .conflict, "command \(id) is already \(state)")
            }
            let last: Int = row["progress_seq"]
            guard progress.seq == last + 1 else {
                throw APIFailure(
                    .conflict, .conflict, "command \(id): progress \(progress.seq) does not follow \(last) (replayed?)")
            }
            let windowID: Int64 = row["window_id"]
            let window = try Self.windowRow(db, windowID)
            let now = store.clock.now()
            if state == "queued", progress.result?.refused == nil, Self.effectiveState(window, now: now) != "open" {
                throw APIFailure(.conflict, .conflict, "command \(id): window \(windowID) is no longer open")
            }
            let stdout = Base64.decode(progress.stdout) ?? []
            let stderr = Base64.decode(progress.stderr) ?? []
            // Appended here, not with SQL's `||` (which makes text of a blob), up to the bound.
            var keptOut = row["stdout"] as Data
            var keptErr = row["stderr"] as Data
            keptOut.append(contentsOf: stdout.prefix(max(0, AccessLimits.keptOutput - keptOut.count)))
            keptErr.append(contentsOf: stderr.prefix(max(0, AccessLimits.keptOutput - keptErr.count)))
            try db.execute(
                sql: """
                    UPDATE access_execs SET state = 'running', progress_seq = ?, stdout = ?, stderr = ?,
                        stdout_bytes = stdout_bytes + ?, stderr_bytes = stderr_bytes + ? WHERE id = ?
                    """,
                arguments: [progress.seq, keptOut, keptErr, stdout.count, stderr.count, id])
            guard let result = progress.result else { return }
            let env: String = window["env"]
            let argv: String = row["argv"]
            let by: String = row["requested_by"]
            if let refused = result.refused {
                try db.execute(
                    sql: "UPDATE access_execs SET state = 'refused', finished_at = ?, reason = ? WHERE id = ?",
                    arguments: [result.finishedAt, "host \(host.name) refused: \(refused)", id])
                try store.record(
                    db, action: .accessExecRefused, subject: Self.subject(windowID),
                    details: [
                        "env": env, "host": host.name, "argv": argv, "by": by, "exec": String(id),
                        "reason": "host \(host.name) refused: \(refused.prefix(AccessLimits.maximumReason))",
                    ])
                return
            }
            try db.execute(
                sql: """
                    UPDATE access_execs SET state = 'done', finished_at = ?, exit_code = ?, signal = ?, timed_out = ?,
                        stdout_bytes = ?, stderr_bytes = ?, stdout_digest = ?, stderr_digest = ?, result_body = ?,
                        signature_input = ?, signature = ? WHERE id = ?
                    """,
                arguments: [
                    result.finishedAt, result.exitCode, result.signal, result.timedOut, result.stdoutBytes,
                    result.stderrBytes, result.stdoutDigest, result.stderrDigest, arrived.body, arrived.signatureInput,
                    arrived.signature, id,
                ])
            try store.record(
                db, action: .accessExec, subject: Self.subject(windowID),
                details: [
                    "env": env, "host": host.name, "argv": argv, "by": by, "exec": String(id),
                    "exit_code": result.exitCode.map(String.init) ?? LedgerDetail.absent,
                    "signal": result.signal.map(String.init) ?? LedgerDetail.absent,
                    "timed_out": LedgerDetail.flag(result.timedOut), "stdout_digest": result.stdoutDigest,
                    "stderr_digest": result.stderrDigest, "stdout_bytes": String(result.stdoutBytes),
                    "stderr_bytes": String(result.stderrBytes), "started_at": result.startedAt,
                    "finished_at": result.finishedAt,
                    "body": Digest.of(Array(arrived.body.utf8)).description,
                ])
        }
    }

    // MARK: what agents are told

    /// The windows onto `host` its agent must know of, and the commands waiting for it.
    static func agentAccess(_ db: Database, keyID: String, now: Date) throws -> ([AgentWindow], [ExecOrder]) {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT w.* FROM access_windows w JOIN access_window_hosts h ON h.window_id = w.id
                WHERE h.key_id = ? AND w.opened_at IS NOT NULL AND h.outcome IS NULL ORDER BY w.id
                """,
            arguments: [keyID])
        var windows = [AgentWindow]()
        var open = Set<Int64>()
        for row in rows {
            let state = effectiveState(row, now: now) == "open" ? "open" : "ended"
            if state == "open" { open.insert(row["id"]) }
            windows.append(
                AgentWindow(id: row["id"], state: state, openedAt: row["opened_at"], expiresAt: row["expires_at"]))
        }
        let orders = try Row.fetchAll(
            db, sql: "SELECT * FROM access_execs WHERE key_id = ? AND state = 'queued' ORDER BY id", arguments: [keyID]
        ).compactMap { row -> ExecOrder? in
            guard open.contains(row["window_id"]) else { return nil }
            return ExecOrder(
                id: row["id"], window: row["window_id"], argv: decodeArgv(row["argv"]),
                timeoutSeconds: row["timeout_seconds"], requestedBy: row["requested_by"])
        }
        return (windows, orders)
    }

    /// A host's `window_closed` report: what the window left there, in the window's record and
    /// the ledger (the changes' digest names the whole list, however long).
    static func noteWindowClosed(_ db: Database, store: Store, report: AgentReport, host: HostRecord, at now: String)
        throws
    {
        guard let id = report.window, let outcome = report.outcome else { return }
        try db.execute(
            sql: """
                UPDATE access_window_hosts SET outcome = ?, change_count = ?, proposal = ?, reported_at = ?, detail = ?
                WHERE window_id = ? AND key_id = ? AND outcome IS NULL
                """,
            arguments: [outcome, report.changeCount, report.proposal, now, report.reason, id, host.keyID.hex])
        guard db.changesCount > 0 else { return }
        for change in report.changes {
            try db.execute(
                sql:
                    "INSERT INTO access_changes (window_id, host, path, kind, before, after) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [id, host.name, change.path, change.kind, change.expected, change.found])
        }
        let listed = report.changes.map { "\($0.kind)\t\($0.path)\t\($0.expected ?? "-")\t\($0.found ?? "-")\n" }
        try store.record(
            db, action: .accessChanges, subject: subject(id),
            details: [
                "env": host.env, "host": host.name, "outcome": outcome, "changes": String(report.changeCount),
                "changes_digest": Digest.of(Array(listed.joined().utf8)).description,
                "proposal": report.proposal ?? LedgerDetail.absent,
                "evidence": report.evidence ?? LedgerDetail.absent,
            ])
    }

    // MARK: views

    static func argvText(_ argv: [String]) -> String { String(decoding: JSONStyle.compact.bytes(argv), as: UTF8.self) }

    static func decodeArgv(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? [text]
    }

    static func execView(_ db: Database, id: Int64, stdoutFrom: Int, stderrFrom: Int) throws -> ExecView? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM access_execs WHERE id = ?", arguments: [id]) else {
            return nil
        }
        let stdout = [UInt8](row["stdout"] as Data)
        let stderr = [UInt8](row["stderr"] as Data)
        return ExecView(
            id: id, window: row["window_id"], host: row["host"], argv: decodeArgv(row["argv"]),
            requestedBy: row["requested_by"], state: row["state"], requestedAt: row["requested_at"],
            finishedAt: row["finished_at"], exitCode: row["exit_code"], signal: row["signal"],
            timedOut: row["timed_out"], stdout: Base64.encode(Array(stdout.dropFirst(max(0, stdoutFrom)))),
            stderr: Base64.encode(Array(stderr.dropFirst(max(0, stderrFrom)))), stdoutKept: stdout.count,
            stderrKept: stderr.count, stdoutBytes: row["stdout_bytes"], stderrBytes: row["stderr_bytes"],
            stdoutDigest: row["stdout_digest"], stderrDigest: row["stderr_digest"], reason: row["reason"])
    }
}

/// A signed request body as it arrived: the bytes and the headers that sign them (kept as evidence).
struct SignedBody: Sendable {
    let body: String
    let signatureInput: String
    let signature: String
}
