import FixityCore
import Foundation
import Hummingbird

/// Policy and environments: the signed policy (set with `policy:write`, read by anyone with a
/// key), each environment's desired state, and promotions judged by the policy in force.
enum EnvironmentRoutes {
    struct Promotion: Codable {
        let release: String
        /// Waves, bake and failure budget: the hosts move in phases (docs/agent.md, "Rollouts").
        let rollout: RolloutPlan?
    }

    static func add(
        to v1: RouterGroup<ServerContext>, plane: any ControlPlane, cache: CatalogCache, metrics: ServerMetrics
    ) {
        v1.put("policy") { request, context -> Response in
            try context.require(.policyWrite)
            let body = try await JSONBodies.body(request, context)
            var record = try await plane.setPolicy(envelope: body, keyID: context.keyID)
            let warnings = try await policyWarnings(record, plane: plane)
            if !warnings.isEmpty { record.warnings = warnings }
            return try JSONBodies.response(record, status: .created)
        }

        v1.get("policy") { _, context -> Response in
            try context.require(.releaseRead)
            guard let record = try await plane.currentPolicy() else {
                throw APIFailure.notFound("no policy has been set on this server")
            }
            return try JSONBodies.response(record)
        }

        let environments = DefinedEnvironments(plane: plane)
        v1.get("environments/{env}") { _, context -> Response in
            try context.require(.releaseRead)
            let env = try environment(context)
            try await environments.requireForRead(env)
            var view = try await plane.environment(env)
            do {
                view.hosts = try await plane.fleet.hosts(env: env)
                view.rollout = try await plane.fleet.rollout(env: env)
            } catch let failure as APIFailure where failure.status == .notImplemented {
                // The desired state is known here; the hosts are not: said, not shown as none.
                view.fleetUnavailable = failure.message
            }
            return try JSONBodies.response(view)
        }

        v1.get("environments/{env}/desired") { _, context -> Response in
            try context.require(.releaseRead)
            let env = try environment(context)
            let answer: DesiredAnswer
            if let cached = cache.desiredState(env: env) {
                answer = cached
            } else {
                let generation = cache.readStarting()
                answer = try DesiredAnswer(try await plane.desiredState(env: env))
                cache.remember(desired: answer, env: env, readAt: generation)
            }
            guard let json = answer.json else {
                throw APIFailure.notFound("environment \(env) has no desired state yet (fixity promote)")
            }
            return JSONBodies.response(encoded: json)
        }

        v1.post("environments/{env}/promote") { request, context -> Response in
            let env = try environment(context)
            try await environments.requireForWrite(env)
            try context.require(.promote(env: env))
            let promotion = try await JSONBodies.decode(Promotion.self, request, context)
            let ref = try ReleaseRoutes.parse("release") { try Ref(parsing: promotion.release) }
            do {
                let desired = try await plane.promote(ref, env: env, keyID: context.keyID, rollout: promotion.rollout)
                metrics.promotions.increment()
                return try JSONBodies.response(desired, status: .created)
            } catch let refused as PromotionRefused {
                metrics.refused("policy")
                throw APIFailure(.conflict, .refused, refused.message)
            }
        }
    }

    /// Approvers are API key names: one no live key carries can never approve (a typo, or a key
    /// not made yet). Said, not refused: the key may be made next.
    static func policyWarnings(_ record: PolicyRecord, plane: any ControlPlane) async throws -> [String] {
        let policy = try record.policy()
        let named = Set(try await plane.listKeys().filter { $0.revokedAt == nil }.map(\.name))
        var warnings = [String]()
        for (env, rules) in policy.environments.sorted(by: { $0.key < $1.key }) {
            for approver in rules.access?.approvers ?? [] where !named.contains(approver) {
                warnings.append(
                    "environments.\(env).access.approvers names '\(approver)', but no API key on this server has that name: it cannot approve until one does (fixity server key create --name \(approver))"
                )
            }
        }
        return warnings
    }

    /// The `{env}` segment, checked as a scope's environment name is.
    static func environment(_ context: ServerContext) throws -> String {
        let text = try ReleaseRoutes.pathParameter("env", context)
        _ = try ReleaseRoutes.parse("env") { try APIKeyScope(parsing: "promote:" + text) }
        return text
    }
}
