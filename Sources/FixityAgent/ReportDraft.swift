import FixityCore
import FixityHost
import Foundation

/// A report before it has its seq and time (the agent assigns those as it sends, so the seq
/// order is the sending order).
struct ReportDraft: Sendable {
    let event: AgentEvent
    var tag: String?
    var release: String?
    var deployment: String?
    var attempted: String?
    var health: ReportedHealth?
    var driftState: String?
    var changes: [ReportedChange] = []
    var changeCount = 0
    var evidence: String?
    var evidenceFiles: [ReportedEvidence]?
    var reason: String?
    var window: Int64?
    var outcome: String?
    var proposal: String?

    init(event: AgentEvent) { self.event = event }

    func report(seq: Int64, time: Date, interval: Int) -> AgentReport {
        AgentReport(
            seq: seq, event: event, time: Instant(time).description, tag: tag, release: release,
            deployment: deployment, attempted: attempted, health: health, driftState: driftState, changes: changes,
            changeCount: changeCount, evidence: evidence, evidenceFiles: evidenceFiles,
            reason: reason.map { String($0.prefix(4000)) },
            intervalSeconds: interval, window: window, outcome: outcome, proposal: proposal)
    }

    static func deployed(_ outcome: DeployOutcome, tag: String) -> ReportDraft {
        var draft = ReportDraft(event: outcome.result == .rolledBack ? .rolledBack : .deployed)
        draft.tag = tag
        draft.attempted = outcome.release.description
        if outcome.result == .rolledBack {
            draft.deployment = outcome.rolledBackTo?.description
            draft.reason = "health check failed; rolled back to \(outcome.rolledBackTo?.short ?? "nothing")"
        } else {
            draft.release = outcome.release.description
            draft.deployment = outcome.deployment.description
        }
        let run = outcome.health ?? (outcome.result == .rolledBack ? outcome.onActivate : nil)
        if let run {
            draft.health = ReportedHealth(
                result: run.passed ? HealthResult.pass.rawValue : HealthResult.fail.rawValue, command: run.command,
                exitCode: run.exitCode.map(Int.init), seconds: run.seconds,
                outputTail: String(run.outputTail.suffix(4000)), counts: run.passed && outcome.health != nil)
        } else {
            draft.health = ReportedHealth(
                result: HealthResult.noCheck.rawValue, command: nil, exitCode: nil, seconds: 0, outputTail: "",
                counts: false)
        }
        return draft
    }

    static func refused(_ desired: AgentDesired, reason: String) -> ReportDraft {
        var draft = ReportDraft(event: .refused)
        draft.tag = desired.tag
        draft.attempted = desired.release
        draft.reason = reason
        return draft
    }

    /// A drift state change (or a repair) from the watcher.
    static func drift(_ outcome: VerifyOutcome, event: AgentEvent, evidence: String? = nil) -> ReportDraft {
        var draft = ReportDraft(event: event)
        draft.release = outcome.release.description
        draft.deployment = outcome.deployment.description
        draft.driftState = outcome.clean ? "clean" : "drifted"
        let report = outcome.report
        var changes = [ReportedChange]()
        func add(_ paths: [String], _ kind: String) {
            for path in paths {
                changes.append(
                    ReportedChange(
                        path: path, kind: kind, expected: nil, found: report.observed[path]?.description))
            }
        }
        add(report.modified, "modified")
        add(report.added, "added")
        add(report.removed, "removed")
        add(report.modeChanged, "mode")
        add(report.typeChanged, "type")
        draft.changeCount = changes.count
        draft.changes = Array(changes.prefix(AgentReport.maximumChanges))
        draft.evidence = evidence
        return draft
    }
}
