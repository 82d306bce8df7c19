import FixityAccess
import FixityCore
import Foundation
import Hummingbird

/// API keys, for `admin` keys (as `/v1/keys`): each with its scopes, expiry and last use;
/// a new key shown once; a revocation that ends the key's sessions at their next request.
enum DashboardKeyPages {
    struct Row {
        let name: String
        let id: String
        let owner: String
        let scopes: String
        let created: Moment?
        let expires: Moment?
        let lastUsed: Moment?
        let lastFrom: String
        let status: String
        let active: Bool
    }
    struct Created {
        let name: String
        let secret: String
    }
    struct Page {
        let chrome: Chrome
        let csrf: String
        let keys: [Row]
        let created: Created?
        let problem: String?
        let scopeForms: String
        let rendered: String
    }

    static func add(to pages: RouterGroup<ServerContext>, dashboard: Dashboard) {
        pages.get("keys") { _, context in
            try context.require(.admin)
            return try await page(context, dashboard, created: nil)
        }

        pages.post("keys") { _, context in
            try context.require(.admin)
            let form = try context.requireDashboard().form
            let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
            let owner = form["owner"] ?? ""
            guard owner.unicodeScalars.count <= 1000 else {
                throw APIFailure.badInput("owner: at most 1000 characters")
            }
            let scopeText = (form["scopes"] ?? "").split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" })
            let scopes = try ReleaseRoutes.parse("scopes") {
                try scopeText.map { try APIKeyScope(parsing: String($0)) }
            }
            let lifetime = try KeyRoutes.duration(
                form["expires"].flatMap { $0.isEmpty ? nil : $0 } ?? "90d", what: "expires")
            let shown = try await dashboard.plane.createKey(
                name: name, owner: owner, scopes: scopes, lifetime: lifetime)
            return try await page(
                context, dashboard, created: Created(name: shown.record.name, secret: shown.key), status: .created)
        }

        pages.post("keys/{key}/revoke") { _, context in
            try context.require(.admin)
            let key = try ReleaseRoutes.pathParameter("key", context)
            _ = try await dashboard.plane.revokeKey(key)
            return DashboardResponse.redirect("/dashboard/keys")
        }
    }

    static func page(
        _ context: ServerContext, _ dashboard: Dashboard, created: Created?, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let chrome = try context.requireDashboard().chrome
        let now = dashboard.now
        let keys = try await dashboard.plane.listKeys().map { key -> Row in
            let refusal = key.refusal(at: now.date)
            let status = key.revokedAt != nil ? "revoked" : refusal == nil ? "active" : "expired"
            return Row(
                name: key.name, id: key.id, owner: key.owner, scopes: key.scopes.joined(separator: " "),
                created: Moment(key.createdAt, now: now), expires: Moment(key.expiresAt, now: now),
                lastUsed: Moment(key.lastUsedAt, now: now), lastFrom: key.lastUsedFrom ?? "-", status: status,
                active: status == "active")
        }
        return dashboard.page(
            Page(
                chrome: chrome, csrf: chrome.csrf, keys: keys, created: created, problem: nil,
                scopeForms: APIKeyScope.forms.joined(separator: ", "), rendered: now.wholeSecondsText),
            "keys", status: status)
    }
}
