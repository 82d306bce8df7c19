import FixityCore
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Live host states for an environment's page, as Server-Sent Events: an `hosts` event with
/// every host's state whenever one changes (looked at twice a second, and at once when the
/// catalog moves), a comment every 15 s to keep proxies from closing an idle stream, and an
/// `ended` event when the session or its key ends. A stream lasts at most 10 minutes; the
/// browser's EventSource reconnects by itself (through the gate again).
enum DashboardEvents {
    static let interval = 0.5
    static let keepAlive: Duration = .seconds(15)
    static let lifetime: Duration = .seconds(600)
    /// How often the session's key is authenticated again while the stream is open.
    static let recheck: Duration = .seconds(2)

    struct HostState: Encodable, Equatable {
        let name: String
        let state: String
        let drift: Int
    }

    static func hosts(env: String, session: DashboardRequest, address: String, dashboard: Dashboard) -> Response {
        var headers = DashboardResponse.headers("text/event-stream; charset=utf-8")
        headers[.init("X-Accel-Buffering")!] = "no"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                let start = ContinuousClock.now
                var sent: [HostState]? = nil
                var lastWrite = start
                var lastCheck = start
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                // A server shutting down ends its streams (browsers reconnect to whichever
                // server answers next) rather than wait up to their lifetime.
                while ContinuousClock.now - start < lifetime, !Task.isCancelled, !Task.isShuttingDownGracefully,
                    !dashboard.cache.isStopping
                {
                    if ContinuousClock.now - lastCheck >= recheck {
                        lastCheck = .now
                        guard await stillValid(session, address: address, dashboard: dashboard) else {
                            try await writer.write(ByteBuffer(string: "event: ended\ndata: {}\n\n"))
                            break
                        }
                    }
                    let seen = dashboard.cache.current
                    let states = try await dashboard.plane.fleet.hosts(env: env).map {
                        HostState(name: $0.name, state: $0.state, drift: $0.drift.count)
                    }
                    if states != sent {
                        let json = String(decoding: try JSONEncoder().encode(states), as: UTF8.self)
                        try await writer.write(ByteBuffer(string: "event: hosts\ndata: \(json)\n\n"))
                        sent = states
                        lastWrite = .now
                    } else if ContinuousClock.now - lastWrite >= keepAlive {
                        try await writer.write(ByteBuffer(string: ": alive\n\n"))
                        lastWrite = .now
                    }
                    await dashboard.cache.waitForChange(after: seen, upTo: interval)
                }
                try await writer.finish(nil)
            })
    }

    /// The session is still live and its key still authenticates (not revoked, not expired).
    static func stillValid(_ request: DashboardRequest, address: String, dashboard: Dashboard) async -> Bool {
        guard dashboard.sessions.session(cookie: request.cookie, now: Date()) != nil else { return false }
        do {
            _ = try await dashboard.keys.key(request.session.presented, from: address)
            return true
        } catch {
            dashboard.sessions.end(cookie: request.cookie)
            return false
        }
    }
}
