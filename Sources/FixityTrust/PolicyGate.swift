import FixityCore
import FixityStore

/// The policy check before anything is materialized: the policy in force, the release's (and
/// config's) envelopes and where it has been known-good, evaluated for one environment.
package struct PolicyGate {
    package let store: Store

    package init(store: Store) { self.store = store }

    /// The decision and the digest of the policy it was made under (nil: no policy set).
    /// `vouched`: environments where the release is known-good by someone else's word — an
    /// agent's server, whose hosts reported it healthy (docs/agent.md says why an agent takes
    /// this one claim on trust and no other).
    package func check(env: String, release: ReleaseID, config: ReleaseID?, vouched: Set<String> = []) throws -> (
        decision: Policy.Decision, policy: Digest?
    ) {
        guard let stored = try store.currentPolicy() else {
            return (Policy.Decision(environment: env, governed: false, missing: [], signers: []), nil)
        }
        let policy = try PolicyFile.parse(stored.text, name: "in force (\(stored.digest.short))")
        // Known-good for the pair being deployed, from the ledger (KnownGood).
        let app = Policy.Evidence(
            release: release, envelopes: try store.envelopes(about: release).map(\.envelope),
            knownGoodIn: try KnownGood.environments(store: store, release: release, config: config).union(vouched))
        let configEvidence = try config.map {
            Policy.Evidence(release: $0, envelopes: try store.envelopes(about: $0).map(\.envelope))
        }
        return (policy.evaluate(env: env, app: app, config: configEvidence), stored.digest)
    }

    /// Throws the refusal, naming everything missing, when the policy does not allow it.
    package func enforce(env: String, release: ReleaseID, config: ReleaseID?, vouched: Set<String> = []) throws
        -> Digest?
    {
        let (decision, policy) = try check(env: env, release: release, config: config, vouched: vouched)
        guard decision.allowed else {
            throw DeployError(
                "policy \(policy?.short ?? "-") refuses \(env): " + decision.missing.joined(separator: "; "))
        }
        return policy
    }
}
