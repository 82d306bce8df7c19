import FixityCore
import FixityStore
import FixityTrust
import Foundation
import GRDB

/// A host's reports: each one's seq must exceed the last accepted (a replay is refused and
/// recorded), a state change is kept as signed and becomes a `host-report` ledger entry, a
/// status report (the once-per-interval heartbeat) only updates when the host was last seen.
extension LocalFleet {
    func accept(_ arrived: ArrivedReport, from host: HostRecord) async throws {
        let report = arrived.report
        try await write { db in
            let last =
                try Int64.fetchOne(
                    db, sql: "SELECT last_report_seq FROM hosts WHERE key_id = ?", arguments: [host.keyID.hex]) ?? 0
            guard report.seq > last else {
                throw ReportReplayed(host: host.name, seq: report.seq, last: last)
            }
            let now = store.clock.timestamp()
            try db.execute(
                sql: """
                    UPDATE hosts SET last_report_seq = ?, last_seen_at = ?, interval_seconds = ?,
                        release = COALESCE(?, release), deployment = COALESCE(?, deployment) WHERE key_id = ?
                    """,
                arguments: [
                    report.seq, now, report.intervalSeconds, report.release, report.deployment, host.keyID.hex,
                ])
            guard report.event != .status else { return }
            let drift: [String]? =
                switch report.event {
                case .drift: report.driftState == "clean" ? [] : report.changes.map(\.path)
                case .repaired, .deployed: []
                // Proposed changes stay live (reported as drift) until a promotion replaces them.
                case .windowClosed: report.outcome == "proposed" ? report.changes.map(\.path) : []
                default: nil
                }
            try db.execute(
                sql: """
                    UPDATE hosts SET last_report_at = ?, last_event = ?, attempted = ?, detail = ?,
                        drift = COALESCE(?, drift) WHERE key_id = ?
                    """,
                arguments: [
                    now, report.event.rawValue, report.attempted ?? report.release, Self.detail(report),
                    drift.map { String(decoding: JSONStyle.compact.bytes($0), as: UTF8.self) }, host.keyID.hex,
                ])
            try db.execute(
                sql: """
                    INSERT INTO host_reports (key_id, report_seq, event, received_at, body, signature_input, signature)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    host.keyID.hex, report.seq, report.event.rawValue, now, arrived.body, arrived.signatureInput,
                    arrived.signature,
                ])
            var details = [
                "env": host.env, "event": report.event.rawValue, "report_seq": String(report.seq),
                "release": report.release ?? LedgerDetail.absent,
                "deployment": report.deployment ?? LedgerDetail.absent,
                "attempted": report.attempted ?? LedgerDetail.absent,
                "body": Digest.of(Array(arrived.body.utf8)).description,
            ]
            if let health = report.health {
                details["health"] = health.result
                details[KnownGood.countsDetail] = LedgerDetail.flag(health.counts)
            }
            if let state = report.driftState {
                details["drift"] = state
                details["changes"] = String(report.changeCount)
            }
            if let reason = report.reason { details["reason"] = String(reason.prefix(2000)) }
            if let window = report.window { details["window"] = String(window) }
            try store.record(db, action: .hostReport, subject: host.name, details: details)
            try Self.noteOutcome(db, report: report, host: host, at: now)
            if report.event == .windowClosed {
                try Self.noteWindowClosed(db, store: store, report: report, host: host, at: now)
            }
        }
    }

    /// A line for `env show`: why it failed, what its health check said.
    static func detail(_ report: AgentReport) -> String? {
        switch report.event {
        case .refused: report.reason
        case .rolledBack:
            "health check failed: " + (report.health.map { "\($0.command ?? "-") → \($0.result)" } ?? "-")
        case .drift: report.driftState == "clean" ? nil : "\(report.changeCount) path(s) drifted"
        case .repaired: "repaired; evidence \(report.evidence ?? "-")"
        case .windowClosed:
            "window \(report.window ?? 0) ended: \(report.changeCount) change(s), \(report.outcome ?? "-")"
                + (report.proposal.map { " as \($0)" } ?? "")
        default: nil
        }
    }

    /// The host's outcome in a running rollout of its environment, if the report is about it.
    static func noteOutcome(_ db: Database, report: AgentReport, host: HostRecord, at now: String) throws {
        guard
            let rollout = try Row.fetchOne(
                db,
                sql:
                    "SELECT r.id, r.release, h.state FROM rollouts r JOIN rollout_hosts h ON h.rollout_id = r.id WHERE r.env = ? AND r.state IN \(RolloutState.activeSQL) AND h.key_id = ? ORDER BY r.id DESC LIMIT 1",
                arguments: [host.env, host.keyID.hex])
        else { return }
        let release: String = rollout["release"]
        let outcome: String? =
            switch report.event {
            case .deployed where report.release == release: "healthy"
            case .rolledBack where report.attempted == release: "failed"
            case .refused where report.attempted == release: "failed"
            default: nil
            }
        guard let outcome, rollout["state"] as String == "pending" else { return }
        try db.execute(
            sql: "UPDATE rollout_hosts SET state = ?, updated_at = ? WHERE rollout_id = ? AND key_id = ?",
            arguments: [outcome, now, rollout["id"] as Int64, host.keyID.hex])
    }
}

/// A report whose seq is not above the host's last: a replay (or a host whose state was lost).
struct ReportReplayed: FixityError {
    let host: String
    let seq: Int64
    let last: Int64
    var category: ErrorCategory { .conflict }
    var message: String {
        "host \(host): report seq \(seq) is not above the last accepted (\(last)): a replayed or out-of-order report is refused"
    }
}
