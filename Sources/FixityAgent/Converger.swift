import FixityApp
import FixityCore
import FixityHost
import FixityServer
import FixityStore
import FixityTrust
import Foundation

/// One cycle of the agent: take a desired answer, judge it by the host's own trust, pull what
/// is missing, deploy through the same code as `fixity deploy`, and say what happened. The host
/// never moves without an answer it verified: a refusal leaves the active deployment as it is.
struct Converger: Sendable {
    let settings: AgentSettings
    let store: Store

    struct Result: Sendable {
        let outcome: CycleOutcome
        /// What to tell the server (nil: nothing changed).
        let report: ReportDraft?
        /// The drift response of the policy now in force here.
        let drift: DriftResponse
        /// Old deployments to remove once `report` is delivered (the keep count), if any.
        var retention: Int? = nil
    }

    func converge(_ desired: AgentDesired, client: ServerClient) async throws -> Result {
        let env = settings.identity.env
        let accepted: PolicyChain.Accepted
        do {
            guard desired.env == env else {
                throw AgentRefusal(
                    "the server answered for environment '\(desired.env)'; this host is enrolled in '\(env)'")
            }
            accepted = try await BlockingWork.run { [store, settings] in
                try PolicyChain.verify(desired.policies, pinned: settings.identity.policyRoot, store: store)
            }
        } catch let refusal as AgentRefusal {
            return try await refuse(desired, refusal.message, drift: try await currentDrift())
        }
        let drift = accepted.policy.environments[env]?.drift ?? .report
        guard let releaseText = desired.release else {
            return Result(outcome: .converged, report: nil, drift: drift)
        }
        guard let digest = Digest(parsing: releaseText) else {
            return try await refuse(
                desired, "the desired release '\(releaseText.prefix(80))' is not sha256:<hex>", drift: drift)
        }
        let release = ReleaseID(digest)
        let deployment = try Deployment(release: release, config: nil, configPath: nil).id
        let known = try await BlockingWork.run { [store, settings] in
            (try settings.root.activeDeployment(), try RootState(store: store, root: settings.root).find(deployment))
        }
        if known.0 == deployment, known.1?.health == .knownGood {
            return Result(outcome: .converged, report: nil, drift: drift)
        }
        if known.1?.health == .knownBad {
            // Tried and failed here: not again until the server asks for something else.
            return Result(
                outcome: .rolledBack("release \(release.short) is known-bad on this host: \(known.1?.reason ?? "-")"),
                report: nil, drift: drift)
        }
        // Pull what is missing: every blob is checked against its digest as it arrives.
        do {
            _ = try await ReleaseTransfer.pull(.id(release), into: store, from: client)
        } catch let error as any FixityError where error.category != .io {
            return try await refuse(desired, "pulling release \(release.short): \(error.message)", drift: drift)
        }
        // The host's own policy check, against the policy it just verified, before anything
        // is materialized.
        let vouched = Set(desired.knownGoodIn)
        let decision = try await BlockingWork.run { [store] in
            if try store.currentPolicy()?.digest != accepted.digest {
                _ = try store.setPolicy(
                    text: accepted.text,
                    summary: [
                        "source": "agent", "server": client.base,
                        "root_threshold": String(accepted.policy.root?.threshold ?? 0),
                    ])
            }
            return try PolicyGate(store: store).check(env: env, release: release, config: nil, vouched: vouched)
                .decision
        }
        guard decision.governed else {
            return try await refuse(
                desired, "the policy \(accepted.digest.short) does not define environment \(env)", drift: drift)
        }
        guard decision.allowed else {
            return try await refuse(
                desired, "policy \(accepted.digest.short) refuses \(env): " + decision.missing.joined(separator: "; "),
                drift: drift)
        }
        var request = DeployRequest(release: release)
        request.env = env
        request.vouchedKnownGood = vouched
        request.deferRetention = true
        let outcome: DeployOutcome
        do {
            outcome = try await DeployRelease(request, to: settings.root).run(in: store)
        } catch let error as any FixityError where error.category == .refused || error.category == .badInput {
            return try await refuse(desired, "deploying \(release.short): \(error.message)", drift: drift)
        }
        let report = ReportDraft.deployed(outcome, tag: desired.tag)
        switch outcome.result {
        case .rolledBack:
            return Result(
                outcome: .rolledBack(
                    "release \(release.short) failed its health check; rolled back to \(outcome.rolledBackTo?.short ?? "nothing")"
                ), report: report, drift: drift, retention: outcome.retentionDeferred)
        case .activated, .unchanged:
            return Result(outcome: .converged, report: report, drift: drift, retention: outcome.retentionDeferred)
        }
    }

    /// Removes the deployments a deploy left for after its report (`Result.retention`).
    func applyRetention(keep: Int) async {
        do {
            _ = try await BlockingWork.run { [store, settings] in
                try Deployer(store: store, root: settings.root).applyRetention(keep: keep, lockTimeout: 60)
            }
        } catch {
            // Old trees left on disk are retried after the next deploy; nothing else depends on them.
        }
    }

    /// The drift response of the policy this host already holds (used when a new one is refused).
    func currentDrift() async throws -> DriftResponse {
        try await BlockingWork.run { [store, settings] in
            guard let stored = try store.currentPolicy(),
                let policy = try? PolicyFile.parse(stored.text, name: "in force")
            else { return .report }
            return policy.environments[settings.identity.env]?.drift ?? .report
        }
    }

    private func refuse(_ desired: AgentDesired, _ reason: String, drift: DriftResponse) async throws -> Result {
        try await BlockingWork.run { [store, settings] in
            _ = try store.ledger.append(
                action: .agentRefused, subject: desired.release ?? LedgerDetail.absent,
                details: [
                    "env": settings.identity.env, "host": settings.identity.host, "server": settings.server,
                    "tag": desired.tag, "reason": reason, "root": settings.root.key,
                ], at: store.clock.now())
        }
        return Result(
            outcome: .refused(reason), report: .refused(desired, reason: reason), drift: drift)
    }
}
