import FixityAccess
import FixityCore
import FixityStore

/// `fixity server key …` on a server's own storage, without a running server: the embedded
/// store's `api_keys`, or the PostgreSQL database replicas share (`--database`).
package struct ServerKeys: Sendable {
    private let plane: any ControlPlane

    package init(dataFolder: String, database: PostgresURL?) throws {
        if let database {
            plane = try PostgresControlPlane(url: database, dataFolder: dataFolder)
        } else {
            plane = LocalControlPlane(store: try Store.open(at: dataFolder))
        }
    }

    package func create(name: String, owner: String, scopes: [APIKeyScope], lifetime: Int) async throws -> ShownKey {
        try await plane.createKey(name: name, owner: owner, scopes: scopes, lifetime: lifetime)
    }

    package func list() async throws -> [APIKeyRecord] { try await plane.listKeys() }

    package func revoke(_ nameOrID: String) async throws -> APIKeyRecord { try await plane.revokeKey(nameOrID) }

    package func rotate(_ nameOrID: String, overlap: Int, lifetime: Int) async throws -> (ShownKey, old: APIKeyRecord) {
        try await plane.rotateKey(nameOrID, overlap: overlap, lifetime: lifetime)
    }
}
