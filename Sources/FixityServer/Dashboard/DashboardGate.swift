import FixityAccess
import FixityCore
import Foundation
import HTTPTypes
import Hummingbird

/// A dashboard request past the gate: its session, the form it posted, the page chrome.
struct DashboardRequest: Sendable {
    let cookie: String
    let session: DashboardSession
    let form: [String: String]
    let chrome: Chrome
}

/// The gate in front of every dashboard page but the login form and the static files: the
/// session cookie must name a live session whose key still authenticates now (the same check
/// as the API's bearer keys, so a revoked or expired key ends its sessions at once); a form
/// must carry the session's CSRF token and come from this origin. Refusals and every form's
/// outcome are ledger entries, as the API's are; each page then requires its scope exactly as
/// its API route does.
struct DashboardGate: RouterMiddleware {
    typealias Context = ServerContext
    let dashboard: Dashboard

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let route = context.endpointPath ?? request.uri.path
        let method = request.method.rawValue
        let posting = request.method == .post
        if let refusal = dashboard.throttled(context.address) { return refusal }
        guard let cookie = request.cookies[Dashboard.sessionCookie]?.value,
            let session = dashboard.sessions.session(cookie: cookie, now: Date())
        else {
            if !posting { return DashboardResponse.redirect("/dashboard/login") }
            return dashboard.errorPage(
                .unauthorized("no session (it ended, or this browser never logged in): log in again"), chrome: nil)
        }
        var context = context
        do {
            context.key = try await dashboard.keys.key(session.presented, from: context.address)
        } catch let failure as APIFailure {
            // The key was revoked or expired since login: the session ends with it.
            dashboard.sessions.end(cookie: cookie)
            if !posting { return DashboardResponse.redirect("/dashboard/login?ended=1") }
            return dashboard.errorPage(.unauthorized("the session ended: \(failure.message)"), chrome: nil)
        }
        let key = context.key!
        let chrome = Chrome(
            keyName: key.name, keyID: key.id, csrf: session.csrf,
            admin: APIKeyScope.admin.isGranted(by: key.grantedScopes))
        var form: [String: String] = [:]
        if posting {
            do {
                form = try await DashboardForm.read(request, context)
                try DashboardForm.checkOrigin(request)
                guard DashboardSessions.matches(form["csrf"], session.csrf) else {
                    throw APIFailure.forbidden(
                        "the form carried no valid CSRF token (reload the page and submit it again)")
                }
            } catch {
                return try await refuse(
                    FailureMiddleware<Context>.failure(for: error, request: request, logger: context.logger),
                    request: request, route: route, context: context, chrome: chrome)
            }
        }
        context.dashboard = DashboardRequest(cookie: cookie, session: session, form: form, chrome: chrome)
        do {
            let response = try await next(request, context)
            if posting {
                dashboard.cache.changed()
                try await dashboard.plane.recordRequest(
                    keyID: key.id, method: method, route: route, status: response.status.code, address: context.address)
            }
            return response
        } catch {
            if posting { dashboard.cache.changed() }
            let failure = FailureMiddleware<Context>.failure(for: error, request: request, logger: context.logger)
            return try await refuse(failure, request: request, route: route, context: context, chrome: chrome)
        }
    }

    /// The error page for `failure`; a 403 is a refusal in the ledger, and a form's outcome is
    /// recorded whatever it was.
    private func refuse(
        _ failure: APIFailure, request: Request, route: String, context: Context, chrome: Chrome
    ) async throws -> Response {
        let method = request.method.rawValue
        if failure.status == .forbidden {
            dashboard.metrics.refused("scope")
            try await dashboard.plane.recordRefusal(
                Refusal(
                    keyID: context.keyID, method: method, route: route, status: failure.status.code,
                    reason: failure.message, address: context.address))
        } else if request.method == .post {
            try await dashboard.plane.recordRequest(
                keyID: context.keyID, method: method, route: route, status: failure.status.code,
                address: context.address)
        }
        return dashboard.errorPage(failure, chrome: chrome)
    }
}

/// Forms as browsers post them (`application/x-www-form-urlencoded`), bounded.
enum DashboardForm {
    static let maximumBytes = 64 * 1024

    static func read(_ request: Request, _ context: ServerContext) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: maximumBytes)
        let text = String(buffer: body)
        guard !text.isEmpty else { return [:] }
        do {
            return try URLEncodedFormDecoder().decode([String: String].self, from: text)
        } catch {
            throw APIFailure.badInput("the form's body is not application/x-www-form-urlencoded fields")
        }
    }

    /// A browser names the page a form came from; one from another origin is refused (CSRF
    /// defence in depth beside the token and SameSite=Strict).
    static func checkOrigin(_ request: Request) throws {
        guard let origin = request.headers[.origin] else { return }
        let host = request.head.authority ?? ""
        guard let url = URL(string: origin), let originHost = url.host else {
            throw APIFailure.forbidden("the form came from origin '\(origin.prefix(80))', not this server")
        }
        let originAuthority = url.port.map { "\(originHost):\($0)" } ?? originHost
        guard originAuthority == host || originHost == host else {
            throw APIFailure.forbidden("the form came from origin '\(origin.prefix(80))', not this server (\(host))")
        }
    }
}
