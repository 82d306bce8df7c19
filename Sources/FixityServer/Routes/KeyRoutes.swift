import FixityAccess
import FixityCore
import Hummingbird

/// API keys over the API, for `admin` keys only: what `fixity server key` does on the data
/// folder, from anywhere the server is reachable. A new key is in the answer exactly once.
package enum KeyRoutes {
    package struct Creation: Codable, Sendable {
        package let name: String
        package let owner: String?
        package let scopes: [String]
        /// A duration (`90s`, `30m`, `12h`, `30d`); default 90 days.
        package let expires: String?

        package init(name: String, owner: String?, scopes: [String], expires: String?) {
            self.name = name
            self.owner = owner
            self.scopes = scopes
            self.expires = expires
        }
    }

    package struct Rotation: Codable, Sendable {
        package let overlap: String?
        package let expires: String?

        package init(overlap: String?, expires: String?) {
            self.overlap = overlap
            self.expires = expires
        }
    }

    package struct Rotated: Codable, Sendable {
        package let new: ShownKey
        package let old: APIKeyRecord
    }

    package struct KeyList: Codable, Sendable {
        package let keys: [APIKeyRecord]
    }

    static func add(to v1: RouterGroup<ServerContext>, plane: any ControlPlane) {
        v1.get("keys") { _, context -> Response in
            try context.require(.admin)
            return try JSONBodies.response(KeyList(keys: try await plane.listKeys()))
        }

        v1.post("keys") { request, context -> Response in
            try context.require(.admin)
            let creation = try await JSONBodies.decode(Creation.self, request, context)
            guard (creation.owner ?? "").unicodeScalars.count <= 1000 else {
                throw APIFailure.badInput("owner: at most 1000 characters")
            }
            let scopes = try ReleaseRoutes.parse("scopes") { try creation.scopes.map { try APIKeyScope(parsing: $0) } }
            let lifetime = try duration(creation.expires ?? "90d", what: "expires")
            let shown = try await plane.createKey(
                name: creation.name, owner: creation.owner ?? "", scopes: scopes, lifetime: lifetime)
            return try JSONBodies.response(shown, status: .created)
        }

        v1.post("keys/{key}/revoke") { _, context -> Response in
            try context.require(.admin)
            let key = try ReleaseRoutes.pathParameter("key", context)
            return try JSONBodies.response(try await plane.revokeKey(key))
        }

        v1.post("keys/{key}/rotate") { request, context -> Response in
            try context.require(.admin)
            let key = try ReleaseRoutes.pathParameter("key", context)
            let rotation = try await JSONBodies.decode(Rotation.self, request, context)
            let overlapText = rotation.overlap ?? "24h"
            let overlap = overlapText == "0s" ? 0 : try duration(overlapText, what: "overlap")
            let lifetime = try duration(rotation.expires ?? "90d", what: "expires")
            let (new, old) = try await plane.rotateKey(key, overlap: overlap, lifetime: lifetime)
            return try JSONBodies.response(Rotated(new: new, old: old), status: .created)
        }
    }

    static func duration(_ text: String, what: String) throws -> Int {
        try ReleaseRoutes.parse(what) {
            try HumanDuration.seconds(text, maximum: APIKeyStore.maximumLifetime, what: what)
        }
    }
}
