import FixityAccess
import FixityCore
import Foundation
import HTTPTypes
import Hummingbird

/// The web dashboard `fixity serve` serves under `/dashboard` (docs/dashboard.md): pages
/// rendered here from the same control plane the API reads, a session per browser, and the
/// same scopes as the API on every page.
struct Dashboard: Sendable {
    static let sessionCookie = "fixity_session"
    static let loginCookie = "fixity_login"

    let plane: any ControlPlane
    let cache: CatalogCache
    let throttle: FailureThrottle
    let metrics: ServerMetrics
    let keys: KeyCheck
    let templates: DashboardTemplates
    let sessions = DashboardSessions()
    /// Served over TLS: cookies are `Secure`.
    let secure: Bool

    var now: Instant { Instant(plane.clock.now()) }

    /// A page: `context` rendered by the template `name`.
    func page(_ context: Any, _ name: String, status: HTTPResponse.Status = .ok) -> Response {
        DashboardResponse.html(templates.render(context, name), status: status)
    }

    func errorPage(_ failure: APIFailure, chrome: Chrome?) -> Response {
        page(
            ErrorPage(
                chrome: chrome, status: failure.status.code, reason: failure.status.reasonPhrase,
                message: failure.message, rendered: now.wholeSecondsText),
            "error", status: failure.status)
    }

    /// The 429 page for an address the failed-login throttle holds back (the API's throttle:
    /// a guessing browser and a guessing script count together); nil when it may go on.
    func throttled(_ address: String) -> Response? {
        guard let wait = throttle.retryAfter(address) else { return nil }
        metrics.refused("throttled")
        return errorPage(
            APIFailure(.tooManyRequests, .unauthorized, "too many failed logins from here; retry after \(wait) s"),
            chrome: nil)
    }

    /// The session cookie: HttpOnly, SameSite=Strict, only for /dashboard, Secure under TLS.
    func sessionCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(
            name: Self.sessionCookie, value: value, maxAge: maxAge, path: "/dashboard", secure: secure,
            httpOnly: true, sameSite: .strict)
    }

    static func add(to router: Router<ServerContext>, dashboard: Dashboard) {
        router.get("/") { _, _ in DashboardResponse.redirect("/dashboard") }
        // Browsers ask for it on every page; there is none (204 keeps their consoles clean).
        router.get("favicon.ico") { _, _ in Response(status: .noContent) }
        router.get("dashboard/static/style.css") { _, _ in
            DashboardResponse.asset(DashboardTemplates.stylesheet, type: "text/css; charset=utf-8")
        }
        router.get("dashboard/static/live.js") { _, _ in
            DashboardResponse.asset(DashboardTemplates.script, type: "text/javascript; charset=utf-8")
        }
        DashboardLogin.add(to: router, dashboard: dashboard)

        let pages = router.group("dashboard").add(middleware: DashboardGate(dashboard: dashboard))
        pages.post("logout") { request, context in
            let session = try context.requireDashboard()
            dashboard.sessions.end(cookie: session.cookie)
            var response = DashboardResponse.redirect("/dashboard/login")
            response.setCookie(dashboard.sessionCookie("", maxAge: 0))
            return response
        }
        DashboardFleetPages.add(to: pages, dashboard: dashboard)
        DashboardReleasePages.add(to: pages, dashboard: dashboard)
        DashboardLedgerPages.add(to: pages, dashboard: dashboard)
        DashboardKeyPages.add(to: pages, dashboard: dashboard)
        DashboardAccessPages.add(to: pages, dashboard: dashboard)
        // Anything else under /dashboard: the error page (with the session's chrome), not JSON.
        pages.get("**") { request, _ -> Response in
            throw APIFailure.notFound("no dashboard page at \(request.uri.path.prefix(200))")
        }
    }
}

extension ServerContext {
    /// The dashboard request the gate admitted (every gated page has one).
    func requireDashboard() throws -> DashboardRequest {
        guard let dashboard else { throw APIFailure.unauthorized("log in to the dashboard first") }
        return dashboard
    }
}
