import FixityCore
import Foundation
import Hummingbird

/// Hosts and rollouts, for people and pipelines (API keys): enroll a host (`host:enroll:ENV`),
/// list hosts and an environment's newest rollout (`release:read`), revoke a host (`admin`).
enum HostRoutes {
    static func add(
        to v1: RouterGroup<ServerContext>, fleet: any Fleet, environments: DefinedEnvironments, cache: CatalogCache
    ) {
        v1.post("hosts") { request, context -> Response in
            let enrollment = try await JSONBodies.decode(HostEnrollment.self, request, context)
            _ = try ReleaseRoutes.parse("env") { try APIKeyScope(parsing: "promote:" + enrollment.env) }
            try await environments.requireForWrite(enrollment.env)
            try context.require(.hostEnroll(env: enrollment.env))
            let view = try await fleet.enroll(enrollment, keyID: context.keyID)
            return try JSONBodies.response(view, status: .created)
        }

        v1.get("hosts") { request, context -> Response in
            try context.require(.releaseRead)
            let env = request.uri.queryParameters.get("env")
            if let env {
                _ = try ReleaseRoutes.parse("env") { try APIKeyScope(parsing: "promote:" + env) }
                try await environments.requireForRead(env)
            }
            return try JSONBodies.response(try await fleet.hosts(env: env))
        }

        v1.post("hosts/{name}/revoke") { _, context -> Response in
            try context.require(.admin)
            let name = try ReleaseRoutes.pathParameter("name", context)
            let view = try await fleet.revokeHost(name, keyID: context.keyID)
            cache.changed()
            return try JSONBodies.response(view)
        }

        v1.get("rollouts/{env}") { _, context -> Response in
            try context.require(.releaseRead)
            let env = try EnvironmentRoutes.environment(context)
            try await environments.requireForRead(env)
            guard let rollout = try await fleet.rollout(env: env) else {
                throw APIFailure.notFound("environment \(env) has had no rollout (fixity promote --waves)")
            }
            return try JSONBodies.response(rollout)
        }
    }
}
