import FixityCore
import FixityStore
import FixityTrust

/// The agent's own judgement of the server's policies (docs/agent.md, "Trust roots"): it trusts
/// the root pinned at enrollment, or the root of the last policy it accepted (kept in its store,
/// so a rotation it saw is never forgotten), and walks the server's chain oldest first, taking
/// each policy the root it trusts at that point admits — its own root's threshold and the
/// trusted root's threshold. The newest policy on the server must be among those taken:
/// otherwise the whole desired state is refused, whatever it names.
struct PolicyChain {
    struct Accepted {
        let text: String
        let policy: Policy
        let digest: Digest
    }

    /// The newest policy, once the chain admits it; throws `AgentRefusal` naming why not.
    static func verify(_ envelopes: [String], pinned: RootRole, store: Store) throws -> Accepted {
        guard !envelopes.isEmpty else {
            throw AgentRefusal("the server has no signed policy: nothing can be verified, so nothing is deployed")
        }
        var trusted: Policy
        var inForce: Digest?
        if let stored = try store.currentPolicy(), let policy = try? PolicyFile.parse(stored.text, name: "in force"),
            policy.root != nil
        {
            trusted = policy
            inForce = stored.digest
        } else {
            trusted = try Policy(keys: [:], environments: [], root: pinned)
        }
        var newest: Accepted?
        var lastRefusal = ""
        for (index, text) in envelopes.enumerated() {
            let (envelope, policyText): (DSSEEnvelope, String)
            do {
                (envelope, policyText) = try SignedPolicy.unwrap(Array(text.utf8), source: "policy \(index + 1)")
            } catch {
                throw AgentRefusal("the server's policy \(index + 1): \(error.message)")
            }
            let digest = Digest.of(Array(policyText.utf8))
            if digest == inForce {
                // The policy this host already took: what follows must be signed by its root.
                newest = Accepted(text: policyText, policy: trusted, digest: digest)
                continue
            }
            let policy: Policy
            do { policy = try PolicyFile.parse(policyText, name: "from the server (\(digest.short))") } catch {
                lastRefusal = "policy \(digest.short): \(error)"
                newest = nil
                continue
            }
            do {
                try SignedPolicy.admit(envelope, policy: policy, current: trusted)
                trusted = policy
                newest = Accepted(text: policyText, policy: policy, digest: digest)
            } catch {
                lastRefusal = "policy \(digest.short): \(error.message)"
                newest = nil
            }
        }
        guard let newest else {
            throw AgentRefusal(
                "the server's policy in force is not signed by the policy root this host trusts: \(lastRefusal)")
        }
        return newest
    }
}

/// A desired state the agent will not act on: refused with this reason (exit 2 under `--once`),
/// an `agent-refused` entry in the host's ledger and a `refused` report to the server.
struct AgentRefusal: FixityError {
    let message: String
    var category: ErrorCategory { .refused }
    init(_ message: String) { self.message = message }
}
