import FixityAccess
import FixityCore
import Foundation
import PostgresNIO

/// API keys in PostgreSQL: the rules of `APIKeyStore` (the same checks, ids, scopes and
/// refusals, constant-time comparison of digests), every change a ledger entry in its
/// transaction — so a key revoked on one replica is refused by every replica at once.
extension PostgresControlPlane {
    static let keyColumns =
        "id, name, owner, prefix, scopes, created_at, expires_at, revoked_at, replaced_by, last_used_at, last_used_from"

    func authenticate(_ presented: String) async throws -> APIKeyRecord {
        try await run {
            let secret = try APIKeySecret(presented: presented)
            let digest = secret.digest
            return try pool.read { query in
                var found: APIKeyRecord?
                for row in try query.rows(
                    "SELECT \(unescaped: Self.keyColumns), digest FROM api_keys WHERE prefix = \(secret.displayPrefix)")
                {
                    let stored = try row.decode(
                        (
                            String, String, String, String, String, String, String, String?, String?, String?, String?,
                            String
                        ).self
                    ).11
                    if let stored = Digest(parsing: stored), APIKeySecret.constantTimeEqual(stored, digest) {
                        found = try Self.record(row)
                    }
                }
                guard let key = found else {
                    throw AccessError(.unauthorized, "unknown API key \(secret.displayPrefix)…")
                }
                return try key.admitted(at: clock.now())
            }
        }
    }

    func noteKeyUses(_ uses: [KeyUse]) async throws {
        guard !uses.isEmpty else { return }
        try await run {
            try pool.transaction { query in
                for use in uses {
                    try query.rows(
                        """
                        UPDATE api_keys SET last_used_at = \(Instant(use.time).description), last_used_from = \(use.address)
                        WHERE id = \(use.id)
                        """)
                }
            }
        }
    }

    func createKey(name: String, owner: String, scopes: [APIKeyScope], lifetime: Int) async throws -> ShownKey {
        try await run {
            try APIKeyStore.checkCreation(name: name, scopes: scopes, lifetime: lifetime)
            return try write { query in
                let now = clock.now()
                if let current = try active(query, named: name, at: now) {
                    throw AccessError(
                        .conflict, "key '\(name)' exists (id \(current.id)); rotate it, or revoke it first")
                }
                return try insertKey(
                    query, name: name, owner: owner, scopes: scopes, lifetime: lifetime, now: now, action: .keyCreate)
            }
        }
    }

    func listKeys() async throws -> [APIKeyRecord] {
        try await run {
            try pool.read { query in
                try query.rows("SELECT \(unescaped: Self.keyColumns) FROM api_keys ORDER BY created_at DESC, id").map(
                    Self.record)
            }
        }
    }

    func revokeKey(_ nameOrID: String) async throws -> APIKeyRecord {
        try await run {
            try write { query in
                let now = clock.now()
                let key = try resolveKey(query, nameOrID, at: now)
                guard key.revokedAt == nil else {
                    throw AccessError(.conflict, "key \(key.id) was already revoked at \(key.revokedAt!)")
                }
                try query.rows("UPDATE api_keys SET revoked_at = \(Instant(now).description) WHERE id = \(key.id)")
                try record(query, .keyRevoke, subject: key.id, details: ["name": key.name])
                return try Self.fetch(query, id: key.id)!
            }
        }
    }

    func rotateKey(_ nameOrID: String, overlap: Int, lifetime: Int) async throws -> (ShownKey, old: APIKeyRecord) {
        try await run {
            try APIKeyStore.checkOverlap(overlap)
            return try write { query in
                let now = clock.now()
                let old = try resolveKey(query, nameOrID, at: now)
                if let why = old.refusal(at: now) {
                    throw AccessError(.refused, "key \(old.id) cannot be rotated: \(why)")
                }
                let scopes = old.scopes.compactMap { try? APIKeyScope(parsing: $0) }
                let shown = try insertKey(
                    query, name: old.name, owner: old.owner, scopes: scopes, lifetime: lifetime, now: now,
                    action: .keyRotate, extra: ["replaces": old.id, "overlap_seconds": String(overlap)])
                let end = min(
                    now.addingTimeInterval(TimeInterval(overlap)), Instant(rfc3339: old.expiresAt)?.date ?? now)
                try query.rows(
                    """
                    UPDATE api_keys SET expires_at = \(Instant(end).description), replaced_by = \(shown.record.id)
                    WHERE id = \(old.id)
                    """)
                return (shown, try Self.fetch(query, id: old.id)!)
            }
        }
    }

    // MARK: rows

    private func insertKey(
        _ query: PostgresSession.Query, name: String, owner: String, scopes: [APIKeyScope], lifetime: Int, now: Date,
        action: LedgerAction, extra: [String: String] = [:]
    ) throws -> ShownKey {
        let secret = APIKeySecret.generate()
        let id = APIKeyStore.id(of: secret)
        let scopeText = APIKeyStore.scopeText(scopes)
        let expires = Instant(now.addingTimeInterval(TimeInterval(lifetime))).description
        try query.rows(
            """
            INSERT INTO api_keys (id, name, owner, prefix, digest, scopes, created_at, expires_at)
            VALUES (\(id), \(name), \(owner), \(secret.displayPrefix), \(secret.digest.description), \(scopeText),
                    \(Instant(now).description), \(expires))
            """)
        try record(
            query, action, subject: id,
            details: ["name": name, "scopes": scopeText, "expires_at": expires].merging(extra) { first, _ in first })
        return ShownKey(key: secret.text, record: try Self.fetch(query, id: id)!)
    }

    private func active(_ query: PostgresSession.Query, named name: String, at now: Date) throws -> APIKeyRecord? {
        try query.rows(
            """
            SELECT \(unescaped: Self.keyColumns) FROM api_keys
            WHERE name = \(name) AND revoked_at IS NULL AND replaced_by IS NULL ORDER BY created_at DESC
            """
        ).map(Self.record).first { $0.refusal(at: now) == nil }
    }

    private func resolveKey(_ query: PostgresSession.Query, _ nameOrID: String, at now: Date) throws -> APIKeyRecord {
        if let byID = try Self.fetch(query, id: nameOrID) { return byID }
        if let byName = try active(query, named: nameOrID, at: now) { return byName }
        throw AccessError(.notFound, "no key in use named or with id '\(nameOrID)' (fixity keys list)")
    }

    static func fetch(_ query: PostgresSession.Query, id: String) throws -> APIKeyRecord? {
        try query.rows("SELECT \(unescaped: keyColumns) FROM api_keys WHERE id = \(id)").first.map(record)
    }

    static func record(_ row: PostgresRow) throws -> APIKeyRecord {
        let columns = try row.decode(
            (String, String, String, String, String, String, String, String?, String?, String?, String?).self)
        return APIKeyRecord(
            id: columns.0, name: columns.1, owner: columns.2, prefix: columns.3,
            scopes: columns.4.split(separator: " ").map(String.init), createdAt: columns.5, expiresAt: columns.6,
            revokedAt: columns.7, replacedBy: columns.8, lastUsedAt: columns.9, lastUsedFrom: columns.10)
    }
}
