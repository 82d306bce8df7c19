import FixityApp
import FixityCore
import FixityHost
import FixityStore

/// What an access window left on a root, collected when it ends: a full check of the live tree
/// against the deployment (every file hashed), each changed path with what the manifest holds
/// there and what was found; then, as the verified policy's `after` says, the deployment
/// restored (evidence kept, as a repair keeps it) or the changed tree sealed as a proposal.
enum WindowChanges {
    /// `before`: what had drifted when the window opened — not the window's change, left as it
    /// is by a revert, and restored (evidence kept) before a proposal is sealed, so the proposal
    /// carries only what the window changed.
    static func collect(
        window: Int64, after: AccessAfter, root: DeployRoot, store: Store, before: WindowBaseline?
    ) throws -> ReportDraft {
        var draft = ReportDraft(event: .windowClosed)
        draft.window = window
        let found: VerifyOutcome = try VerifyRoot(root, full: true).run(in: store)
        let manifest = try store.manifest(found.release)
        draft.release = found.release.description
        draft.deployment = found.deployment.description
        draft.driftState = found.clean ? "clean" : "drifted"
        let all = list(found.report, manifest: manifest)
        let (own, prior) = before?.split(all) ?? (all, [])
        draft.changeCount = own.count
        draft.changes = Array(own.prefix(AgentReport.maximumChanges))
        var notes = [String]()
        if !prior.isEmpty {
            notes.append(
                "\(prior.count) path(s) had drifted before the window opened and are not its changes: "
                    + prior.prefix(5).map(\.path).joined(separator: ", ") + (prior.count > 5 ? " …" : ""))
        }
        defer { if !notes.isEmpty { draft.reason = notes.joined(separator: "; ") } }
        guard !own.isEmpty else {
            draft.outcome = "clean"
            return draft
        }
        switch after {
        case .revert:
            let repaired = try RepairRoot(root, full: true, only: Set(own.map(\.path))).run(in: store)
            draft.evidence = repaired.evidence
            draft.evidenceFiles = repaired.evidence.map { EvidenceReport.files($0, store: store) }
            draft.outcome = repaired.failed.isEmpty ? "reverted" : "failed"
            draft.driftState = repaired.failed.isEmpty && prior.isEmpty ? "clean" : "drifted"
            if !repaired.failed.isEmpty {
                notes.insert("not reverted: " + repaired.failed.joined(separator: "; "), at: 0)
            }
        case .propose:
            if !prior.isEmpty {
                let restored = try RepairRoot(root, full: true, only: Set(prior.map(\.path))).run(in: store)
                notes.append(
                    "restored first (evidence \(restored.evidence ?? "-")) so the proposal carries only the window's changes"
                )
            }
            let app =
                try store.releases(app: nil).first { $0.release == found.release }
                .flatMap { try? AppName(parsing: $0.app) } ?? AppName(parsing: "proposal")
            let sealed = try Adoption(store: store, root: root).adopt(app: app, tag: nil)
            draft.proposal = sealed.release.description
            draft.outcome = "proposed"
        }
        return draft
    }

    /// Each changed path, `expected` what the manifest holds (nil: nothing there), `found` what
    /// the live tree holds (nil: gone): a file's digest, `dir`, `symlink:TARGET`, a mode.
    static func list(_ report: DriftReport, manifest: Manifest) -> [ReportedChange] {
        func held(_ path: String) -> String? {
            guard let entry = manifest.entry(at: path) else { return nil }
            switch entry.kind {
            case .file(_, let digest): return digest.description
            case .directory: return "dir"
            case .symlink(let target): return "symlink:\(target)"
            }
        }
        func live(_ path: String) -> String? {
            if let digest = report.observed[path] { return digest.description }
            guard let state = report.live[path] else { return nil }
            if let target = state.target { return "symlink:\(target)" }
            return state.type == "directory" ? "dir" : state.type
        }
        var changes = [ReportedChange]()
        for path in report.modified {
            changes.append(ReportedChange(path: path, kind: "modified", expected: held(path), found: live(path)))
        }
        for path in report.added {
            changes.append(ReportedChange(path: path, kind: "added", expected: nil, found: live(path)))
        }
        for path in report.removed {
            changes.append(ReportedChange(path: path, kind: "removed", expected: held(path), found: nil))
        }
        for path in report.modeChanged {
            changes.append(
                ReportedChange(
                    path: path, kind: "mode", expected: report.live[path]?.was ?? manifest.entry(at: path)?.modeString,
                    found: report.live[path]?.mode))
        }
        for path in report.typeChanged {
            changes.append(
                ReportedChange(path: path, kind: "type", expected: held(path), found: live(path)))
        }
        return changes.sorted { $0.path < $1.path }
    }
}
