import FixityCore
import FixityStore
import FixityTrust

/// What an environment should run, as a promotion set it.
package struct DesiredState: Sendable, Codable, Equatable {
    package let env: String
    package let release: ReleaseID
    /// Increases with every promotion on this server (an agent's long poll compares it).
    package let seq: Int64
    /// The digest of the policy the promotion was allowed under.
    package let policy: Digest
    /// The id of the key that promoted it.
    package let key: String
    package let setAt: String

    enum CodingKeys: String, CodingKey { case env, release, seq, policy, key, setAt = "set_at" }
}

/// The policy in force on a server: its digest, when it was set, and the envelope it came in.
package struct PolicyRecord: Sendable, Codable {
    package let digest: Digest
    package let seq: Int64
    package let setAt: String
    /// The DSSE envelope (JSON) as it was accepted; agents verify it themselves.
    package let envelope: String
    /// What the server noticed about a policy it just took (an approver no key is named for):
    /// in force all the same, said so the operator hears it now. Only on `PUT /v1/policy`.
    package var warnings: [String]?

    enum CodingKeys: String, CodingKey { case digest, seq, setAt = "set_at", envelope, warnings }
}

/// `GET /v1/environments/{env}`: what a person asks — the desired state and the policy's say.
package struct EnvironmentView: Sendable, Codable {
    package let env: String
    package let desired: DesiredState?
    package let policy: Digest?
    /// Whether the policy in force defines this environment.
    package let defined: Bool
    /// Its rules as the policy states them (nil when undefined).
    package let rules: Rules?
    /// Its enrolled hosts and what each last said (docs/agent.md, "Host states").
    package var hosts: [HostView]?
    /// Its newest rollout, if it ever had one.
    package var rollout: RolloutView?
    /// Why `hosts` and `rollout` are absent: this server does not keep the fleet (PostgreSQL,
    /// so far). Absent is "not known here", never "none".
    package var fleetUnavailable: String?

    enum CodingKeys: String, CodingKey {
        case env, desired, policy, defined, rules, hosts, rollout, fleetUnavailable = "fleet_unavailable"
    }

    package struct Rules: Sendable, Codable {
        package let trustedKeys: [String]
        package let threshold: Int
        package let requireKnownGoodIn: [String]
        package let requireTests: Bool

        enum CodingKeys: String, CodingKey {
            case trustedKeys = "trusted_keys", threshold, requireKnownGoodIn = "require_known_good_in"
            case requireTests = "require_tests"
        }
    }
}

/// A promotion the policy refused: the reason goes back to the client (409) and into the ledger.
package struct PromotionRefused: FixityError, Sendable {
    package let message: String
    package var category: ErrorCategory { .refused }
}

extension PolicyRecord {
    /// The policy text its envelope carries (integrity error if it no longer unwraps).
    func text() throws -> String {
        do {
            return try SignedPolicy.unwrap(Array(envelope.utf8), source: "stored policy \(digest.short)").1
        } catch {
            throw StoreError(.integrity, error.message)
        }
    }

    /// The policy itself, parsed.
    func policy() throws -> Policy { try PolicyFile.parse(try text(), name: "in force") }
}
