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

        // One host whole: its state and its newest signed reports (deployments, health results,
        // drift with the evidence its repairs kept), as the host signed them.
        v1.get("hosts/{name}") { request, context -> Response in
            try context.require(.releaseRead)
            let name = try ReleaseRoutes.pathParameter("name", context)
            guard HostName.isValid(name) else { throw APIFailure.badInput("'\(name.prefix(80))' is not a host name") }
            var limit = 50
            if let text = request.uri.queryParameters.get("limit") {
                guard let value = Int(text), (1...500).contains(value) else {
                    throw APIFailure.badInput("limit must be 1-500")
                }
                limit = value
            }
            return try JSONBodies.response(try await fleet.history(host: name, limit: limit))
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

        for control in RolloutControl.allCases {
            v1.post("rollouts/{env}/\(control.rawValue)") { request, context -> Response in
                let env = try EnvironmentRoutes.environment(context)
                try await environments.requireForRead(env)
                try context.require(.promote(env: env))
                let body = try await JSONBodies.decode(RolloutControlBody.self, request, context)
                let view = try await fleet.controlRollout(
                    env: env, control, reason: body.reason, keyID: context.keyID)
                // Every host's answer may have changed (a pause holds, an abort returns).
                cache.changed()
                return try JSONBodies.response(view)
            }
        }
    }

}
