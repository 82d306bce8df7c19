import FixityAccess
import FixityApp
import FixityCore

/// API keys administered over the API: `APIKeyStore` on the thread pool, as the CLI's
/// `fixity server key` uses it on the data folder.
extension LocalControlPlane {
    func createKey(name: String, owner: String, scopes: [APIKeyScope], lifetime: Int) async throws -> ShownKey {
        try await BlockingWork.run { [store] in
            let (secret, record) = try APIKeyStore(store: store).create(
                name: name, owner: owner, scopes: scopes, lifetime: lifetime)
            return ShownKey(key: secret.text, record: record)
        }
    }

    func listKeys() async throws -> [APIKeyRecord] {
        try await BlockingWork.run { [store] in try APIKeyStore(store: store).list() }
    }

    func revokeKey(_ nameOrID: String) async throws -> APIKeyRecord {
        try await BlockingWork.run { [store] in try APIKeyStore(store: store).revoke(nameOrID) }
    }

    func rotateKey(_ nameOrID: String, overlap: Int, lifetime: Int) async throws -> (ShownKey, old: APIKeyRecord) {
        try await BlockingWork.run { [store] in
            let (secret, record, old) = try APIKeyStore(store: store).rotate(
                nameOrID, overlap: overlap, lifetime: lifetime)
            return (ShownKey(key: secret.text, record: record), old)
        }
    }
}
