import FixityCore

/// An environment a request names must be one the policy in force defines (or, for reads, one
/// that still has a desired state): a typo (`--env stagign`) is answered as a typo, naming the
/// defined ones — not as a missing scope, a missing rollout, or an empty list of hosts.
struct DefinedEnvironments: Sendable {
    let plane: any ControlPlane

    /// For writes (promote, enroll, access): defined by the policy in force. With no policy set
    /// nothing can be judged yet, and the write's own rules answer (a promotion needs a policy).
    func requireForWrite(_ env: String) async throws {
        guard let record = try await plane.currentPolicy() else { return }
        let names = try record.policy().environments.keys.sorted()
        guard names.contains(env) else { throw Self.unknown(env, names, policy: record.digest.short) }
    }

    /// For reads: defined by the policy, or holding a desired state from before it changed.
    /// With no policy set nothing is defined yet, and a read says so itself ("policy none set").
    func requireForRead(_ env: String) async throws {
        let names = try await plane.environmentNames()
        guard !names.contains(env), let policy = try await plane.currentPolicy() else { return }
        throw Self.unknown(env, names, policy: policy.digest.short)
    }

    static func unknown(_ env: String, _ names: [String], policy: String?) -> APIFailure {
        let defined = names.isEmpty ? "none is defined yet" : "defined: \(names.joined(separator: ", "))"
        let source = policy.map { "the policy in force (\($0))" } ?? "this server"
        return APIFailure.notFound("environment '\(env.prefix(80))' is not defined by \(source); \(defined)")
    }
}
