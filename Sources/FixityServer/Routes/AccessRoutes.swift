import FixityCore
import Foundation
import Hummingbird

/// Access windows and the commands run in them (docs/access.md), for people (API keys): ask
/// (`access:request:ENV`), approve or deny (`access:approve:ENV`), list and show (either, or
/// `release:read`), close (the requester or an approver), run a command and follow its output.
enum AccessRoutes {
    /// The longest a read of a command's output may be held waiting for more.
    static let maximumWait = 60

    static func add(
        to v1: RouterGroup<ServerContext>, fleet: any Fleet, environments: DefinedEnvironments, cache: CatalogCache
    ) {
        v1.post("access/windows") { request, context -> Response in
            let body = try await JSONBodies.decode(AccessWindowRequest.self, request, context)
            let env = try environmentName(body.env)
            try await environments.requireForWrite(env)
            try context.require(.accessRequest(env: env))
            let view = try await fleet.requestWindow(body, by: try context.requireKey())
            return try JSONBodies.response(view, status: .created)
        }

        v1.get("access/windows") { request, context -> Response in
            let query = request.uri.queryParameters
            let env = try query.get("env").map(environmentName)
            if let env {
                try context.requireAny(readScopes(env))
            } else {
                // Without an environment: any key, answered with the windows it may read.
                _ = try context.requireKey()
            }
            var open = false
            if let text = query.get("open") {
                guard let flag = Bool(text) else { throw APIFailure.badInput("open must be true or false") }
                open = flag
            }
            let windows = try await fleet.windows(env: env, openOnly: open)
            return try JSONBodies.response(try filtered(windows, for: context))
        }

        v1.get("access/windows/{id}") { _, context -> Response in
            let view = try await fleet.window(try identifier(context))
            try context.requireAny(readScopes(view.env))
            return try JSONBodies.response(view)
        }

        for (verb, approve) in [("approve", true), ("deny", false)] {
            v1.post("access/windows/{id}/\(verb)") { request, context -> Response in
                let id = try identifier(context)
                let body = try await JSONBodies.decode(AccessDecisionBody.self, request, context)
                try context.require(.accessApprove(env: try await fleet.window(id).env))
                let view = try await fleet.decide(
                    window: id, approve: approve, reason: body.reason, by: try context.requireKey())
                return try JSONBodies.response(view)
            }
        }

        v1.post("access/windows/{id}/close") { request, context -> Response in
            let id = try identifier(context)
            let body = try await JSONBodies.decode(AccessDecisionBody.self, request, context)
            let env = try await fleet.window(id).env
            try context.requireAny([.accessRequest(env: env), .accessApprove(env: env)])
            let view = try await fleet.closeWindow(id, reason: body.reason, by: try context.requireKey())
            return try JSONBodies.response(view)
        }

        v1.post("exec") { request, context -> Response in
            let body = try await JSONBodies.decode(ExecRequest.self, request, context)
            let env = try environmentName(body.env)
            try context.require(.accessRequest(env: env))
            let view = try await fleet.startExec(body, by: try context.requireKey())
            return try JSONBodies.response(view, status: .created)
        }

        // A command's output from the offsets given, held up to `wait` seconds for more (or its end).
        v1.get("exec/{id}") { request, context -> Response in
            let id = try identifier(context)
            let query = request.uri.queryParameters
            func offset(_ name: String) throws -> Int {
                guard let text = query.get(name) else { return 0 }
                guard let value = Int(text), value >= 0 else {
                    throw APIFailure.badInput("\(name) must be a byte offset")
                }
                return value
            }
            let stdoutFrom = try offset("stdout_from")
            let stderrFrom = try offset("stderr_from")
            var wait = 0
            if let text = query.get("wait") {
                guard let seconds = Int(text), (0...maximumWait).contains(seconds) else {
                    throw APIFailure.badInput("wait must be 0-\(maximumWait) seconds")
                }
                wait = seconds
            }
            let view = try await cache.hold(upTo: wait) {
                let (view, env) = try await fleet.exec(id, stdoutFrom: stdoutFrom, stderrFrom: stderrFrom)
                try context.requireAny(readScopes(env))
                return (view, view.finished || view.stdoutKept > stdoutFrom || view.stderrKept > stderrFrom)
            }
            return try JSONBodies.response(view)
        }
    }

    /// Who may read windows: anyone who may ask for or approve them there, or read releases.
    static func readScopes(_ env: String?) -> [APIKeyScope] {
        guard let env else { return [.releaseRead] }
        return [.releaseRead, .accessRequest(env: env), .accessApprove(env: env)]
    }

    /// Only the windows a key may read: all with `release:read`, else those of the
    /// environments it may ask for or approve in.
    static func filtered(_ windows: [AccessWindowView], for context: ServerContext) throws -> [AccessWindowView] {
        guard let key = context.key else { return [] }
        return windows.filter { window in
            readScopes(window.env).contains { $0.isGranted(by: key.grantedScopes) }
        }
    }

    static func environmentName(_ text: String) throws -> String {
        _ = try ReleaseRoutes.parse("env") { try APIKeyScope(parsing: "promote:" + text) }
        return text
    }

    static func identifier(_ context: ServerContext) throws -> Int64 {
        let text = try ReleaseRoutes.pathParameter("id", context)
        guard let id = Int64(text), id > 0 else {
            throw APIFailure.badInput("id: '\(text.prefix(40))' is not a number")
        }
        return id
    }
}
