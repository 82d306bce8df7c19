import FixityApp
import FixityCore
import FixityHost
import FixityStore

/// The drift half of one agent cycle (`agent --once`): the live tree checked the way
/// `fixity verify` checks it, repaired when the policy in force says `drift = "repair"` (and no
/// access window is open onto the host: what a window changes is its own to list), reported
/// either way. Without it a cycle said "converged" over a tree somebody had edited.
struct CycleDriftCheck: Sendable {
    let settings: AgentSettings
    let store: Store

    struct Finding: Sendable {
        /// What to tell the server: the drift found, then the repair.
        let reports: [ReportDraft]
        /// Nil when the tree is clean (or there is no active deployment to check).
        let outcome: CycleOutcome?
    }

    func run(drift response: DriftResponse, underWindow: Bool) async throws -> Finding {
        guard try await BlockingWork.run({ [settings] in try settings.root.activeDeployment() }) != nil else {
            return Finding(reports: [], outcome: nil)
        }
        let found = try await VerifyRoot(settings.root).run(in: store)
        guard !found.clean else { return Finding(reports: [], outcome: nil) }
        let foundReport = ReportDraft.drift(found, event: .drift)
        let count = found.report.drifted.count
        guard response == .repair, !underWindow else {
            let why =
                underWindow
                ? "an access window onto this host is open or not yet reported" : "the policy says drift = \"report\""
            return Finding(
                reports: [foundReport], outcome: .drifted("\(count) path(s) drifted; reported, not repaired (\(why))"))
        }
        let repaired = try await RepairRoot(settings.root, lockTimeout: 30).run(in: store)
        let after = try await VerifyRoot(settings.root).run(in: store)
        var report = ReportDraft.drift(after, event: .repaired, evidence: repaired.evidence)
        report.evidenceFiles = repaired.evidence.map { EvidenceReport.files($0, store: store) }
        guard after.clean else {
            return Finding(
                reports: [foundReport, report],
                outcome: .drifted(
                    "\(after.report.drifted.count) of \(count) drifted path(s) could not be repaired: "
                        + repaired.failed.prefix(3).joined(separator: "; ")))
        }
        return Finding(
            reports: [foundReport, report],
            outcome: .repaired("\(count) drifted path(s) repaired; evidence kept at \(repaired.evidence ?? "-")"))
    }
}
