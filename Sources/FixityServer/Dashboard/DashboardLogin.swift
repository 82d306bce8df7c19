import FixityAccess
import FixityCore
import Foundation
import Hummingbird

/// Logging in: an API key exchanged for a session cookie. The form carries a token that must
/// match a cookie set with it (so another site cannot log a browser in under its own key); a
/// wrong key counts toward the address's throttle and is a ledger refusal, as on the API.
enum DashboardLogin {
    struct Form {
        let chrome: Chrome? = nil
        let csrf: String
        let problem: String?
        let sessionHours: Int
        let rendered: String
    }

    static func add(to router: Router<ServerContext>, dashboard: Dashboard) {
        router.get("dashboard/login") { request, context in
            let ended = request.uri.queryParameters["ended"] != nil
            return form(
                dashboard, request: request,
                problem: ended ? "Your session ended: its key was revoked or expired. Log in with a valid key." : nil)
        }

        router.post("dashboard/login") { request, context in
            if let refusal = dashboard.throttled(context.address) { return refusal }
            let fields: [String: String]
            do {
                fields = try await DashboardForm.read(request, context)
                try DashboardForm.checkOrigin(request)
                guard let expected = request.cookies[Dashboard.loginCookie]?.value,
                    DashboardSessions.matches(fields["csrf"], expected)
                else {
                    throw APIFailure.forbidden(
                        "the login form carried no valid CSRF token (reload the page and log in again)")
                }
            } catch {
                let failure = FailureMiddleware<ServerContext>.failure(
                    for: error, request: request, logger: context.logger)
                try await dashboard.plane.recordRefusal(
                    Refusal(
                        keyID: LedgerDetail.absent, method: "POST", route: "/dashboard/login",
                        status: failure.status.code, reason: failure.message, address: context.address))
                return dashboard.errorPage(failure, chrome: nil)
            }
            let presented = (fields["key"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let key: APIKeyRecord
            do {
                key = try await dashboard.keys.key(presented, from: context.address)
            } catch let failure as APIFailure {
                dashboard.throttle.failed(context.address)
                dashboard.metrics.refused("key")
                try await dashboard.plane.recordRefusal(
                    Refusal(
                        keyID: LedgerDetail.absent, method: "POST", route: "/dashboard/login", status: 401,
                        reason: failure.message, address: context.address))
                return form(
                    dashboard, request: request, problem: "Not logged in: \(failure.message)", status: .unauthorized)
            }
            dashboard.throttle.succeeded(context.address)
            let now = Date()
            let (cookie, session) = dashboard.sessions.start(
                presented: presented, keyExpires: Instant(rfc3339: key.expiresAt)?.date, now: now)
            try await dashboard.plane.recordRequest(
                keyID: key.id, method: "POST", route: "/dashboard/login", status: 303, address: context.address)
            var response = DashboardResponse.redirect("/dashboard")
            response.setCookie(
                dashboard.sessionCookie(cookie, maxAge: max(1, Int(session.expires.timeIntervalSince(now)))))
            response.setCookie(loginCookie("", maxAge: 0, secure: dashboard.secure))
            return response
        }
    }

    /// The login page, with a fresh token in its form and in a cookie beside it.
    static func form(
        _ dashboard: Dashboard, request: Request, problem: String?, status: HTTPResponse.Status = .ok
    ) -> Response {
        let token = DashboardSessions.token()
        var response = dashboard.page(
            Form(
                csrf: token, problem: problem, sessionHours: Int(DashboardSessions.lifetime / 3600),
                rendered: dashboard.now.wholeSecondsText),
            "login", status: status)
        response.setCookie(loginCookie(token, maxAge: 3600, secure: dashboard.secure))
        return response
    }

    static func loginCookie(_ value: String, maxAge: Int, secure: Bool) -> Cookie {
        Cookie(
            name: Dashboard.loginCookie, value: value, maxAge: maxAge, path: "/dashboard/login", secure: secure,
            httpOnly: true, sameSite: .strict)
    }
}
