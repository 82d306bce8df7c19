import FixityCore
import Foundation

/// `GET /v1/state?at=` as a client reads it — and checks it: every entry the server offers as
/// proof must hash to its leaf and that leaf must be in the tree the answer names, and every
/// claim of the answer must be what its entry says. That the ledger holds no later entry the
/// server left out is what an audit of the whole ledger shows (`fixity log verify --server`).
package struct ServerState: Codable, Sendable {
    package struct PolicyInForce: Codable, Sendable {
        package let digest: String
        package let seq: Int64
        package let since: String
    }

    package struct Desired: Codable, Sendable {
        package let env: String
        package let release: String
        package let policy: String?
        package let key: String?
        package let seq: Int64
        package let since: String
        package let until: String?
    }

    package struct ProvenEntry: Codable, Sendable {
        package let entry: LedgerEntry
        package let inclusion: InclusionProof
    }

    package let at: String
    package let treeSize: Int
    package let rootHash: String
    package let policy: PolicyInForce?
    package let environments: [Desired]
    package let proof: [ProvenEntry]

    enum CodingKeys: String, CodingKey {
        case at, treeSize = "tree_size", rootHash = "root_hash", policy, environments, proof
    }

    /// The state at `at` (RFC 3339), for `env` only when given, checked as described above.
    package static func fetch(at: String, env: String?, from client: ServerClient) async throws -> ServerState {
        var query = URLComponents()
        query.queryItems =
            [URLQueryItem(name: "at", value: at)] + (env.map { [URLQueryItem(name: "env", value: $0)] } ?? [])
        let state: ServerState = try await client.document(.GET, "/v1/state?" + (query.percentEncodedQuery ?? ""))
        try state.check(server: client.base)
        return state
    }

    func check(server: String) throws {
        func refuse(_ why: String) -> ServerClientError {
            ServerClientError(
                category: .integrity, message: "\(server): the state it answered does not hold: \(why)", status: nil)
        }
        var proven: [Int64: LedgerEntry] = [:]
        for item in proof {
            guard item.inclusion.treeSize == treeSize, item.inclusion.verifies(against: rootHash),
                Base64.decode(item.inclusion.entry) == item.entry.canonicalBytes(),
                item.inclusion.leafIndex == Int(item.entry.seq)
            else { throw refuse("the proof of entry \(item.entry.seq) does not verify against root \(rootHash)") }
            proven[item.entry.seq] = item.entry
        }
        if let policy {
            guard let entry = proven[policy.seq], entry.kind == .policy, entry.subject == policy.digest,
                entry.time == policy.since
            else { throw refuse("the policy in force (\(policy.digest)) is not what entry \(policy.seq) records") }
        }
        for desired in environments {
            guard let entry = proven[desired.seq], entry.kind == .promote, entry.subject == desired.release,
                entry.details["env"] == desired.env, entry.time == desired.since
            else { throw refuse("\(desired.env)'s desired state is not what entry \(desired.seq) records") }
        }
    }
}
