import FixityCore
import FixityStore
import Foundation
import GRDB

/// One API key as the server knows it: everything but the key.
package struct APIKeyRecord: Sendable, Codable, Equatable {
    package let id: String
    package let name: String
    package let owner: String
    /// `fxk_` and the key's first 6 characters, to tell keys apart in a list.
    package let prefix: String
    package let scopes: [String]
    package let createdAt: String
    package let expiresAt: String
    package let revokedAt: String?
    /// Set on a key that was rotated: the id of the key that replaced it.
    package let replacedBy: String?
    package let lastUsedAt: String?
    package let lastUsedFrom: String?

    enum CodingKeys: String, CodingKey {
        case id, name, owner, prefix, scopes, createdAt = "created_at", expiresAt = "expires_at"
        case revokedAt = "revoked_at", replacedBy = "replaced_by", lastUsedAt = "last_used_at"
        case lastUsedFrom = "last_used_from"
    }

    package init(
        id: String, name: String, owner: String, prefix: String, scopes: [String], createdAt: String,
        expiresAt: String, revokedAt: String?, replacedBy: String?, lastUsedAt: String?, lastUsedFrom: String?
    ) {
        self.id = id
        self.name = name
        self.owner = owner
        self.prefix = prefix
        self.scopes = scopes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.replacedBy = replacedBy
        self.lastUsedAt = lastUsedAt
        self.lastUsedFrom = lastUsedFrom
    }

    init(row: Row) {
        id = row["id"]
        name = row["name"]
        owner = row["owner"]
        prefix = row["prefix"]
        scopes = (row["scopes"] as String).split(separator: " ").map(String.init)
        createdAt = row["created_at"]
        expiresAt = row["expires_at"]
        revokedAt = row["revoked_at"]
        replacedBy = row["replaced_by"]
        lastUsedAt = row["last_used_at"]
        lastUsedFrom = row["last_used_from"]
    }

    /// Why this key does not authenticate at `now`; nil while it does.
    package func refusal(at now: Date) -> String? {
        if let revokedAt { return "revoked at \(revokedAt)" }
        // An expiry that does not parse refuses the key: a gate fails closed.
        guard let expires = Instant(rfc3339: expiresAt) else {
            return "unusable: its expiry '\(expiresAt)' does not parse"
        }
        if expires.date <= now {
            return replacedBy == nil ? "expired at \(expiresAt)" : "rotated; its overlap ended at \(expiresAt)"
        }
        return nil
    }

    /// This record if it authenticates at `now`, else the refusal every gate gives.
    package func admitted(at now: Date) throws(AccessError) -> APIKeyRecord {
        if let why = refusal(at: now) { throw AccessError(.unauthorized, "API key \(id) ('\(name)') is \(why)") }
        return self
    }

    /// Its scopes as types (a stored scope this version cannot read grants nothing).
    package var grantedScopes: Set<APIKeyScope> { Set(scopes.compactMap { try? APIKeyScope(parsing: $0) }) }
}

/// A server's API keys, in the server store's database (`api_keys`, FixityAccess's own table).
/// Every change is a ledger entry in the same transaction — the key's id, name, scopes and
/// expiry, never the key — so the table can be checked against the ledger like every other.
package struct APIKeyStore {
    package static let defaultLifetime = 90 * 86400
    package static let maximumLifetime = 365 * 86400
    package static let defaultOverlap = 86400

    let store: Store

    package init(store: Store) { self.store = store }

    /// A new key: refused when `name` already names a key still in use (rotate it instead).
    package func create(name: String, owner: String, scopes: [APIKeyScope], lifetime: Int = defaultLifetime)
        throws -> (secret: APIKeySecret, record: APIKeyRecord)
    {
        try Self.checkCreation(name: name, scopes: scopes, lifetime: lifetime)
        return try write { db in
            let now = store.clock.now()
            if let current = try activeRecord(db, named: name, at: now) {
                throw AccessError(
                    .conflict, "key '\(name)' exists (id \(current.id)); rotate it, or revoke it first")
            }
            return try insert(
                db, name: name, owner: owner, scopes: scopes, lifetime: lifetime, now: now, action: .keyCreate)
        }
    }

    /// Every key, newest first.
    package func list() throws -> [APIKeyRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_keys ORDER BY created_at DESC, id").map(
                APIKeyRecord.init(row:))
        }
    }

    /// Revokes at once the key with this id, or the key in use under this name.
    package func revoke(_ nameOrID: String) throws -> APIKeyRecord {
        try write { db in
            let now = store.clock.now()
            let key = try resolve(db, nameOrID, at: now)
            guard key.revokedAt == nil else {
                throw AccessError(.conflict, "key \(key.id) was already revoked at \(key.revokedAt!)")
            }
            let time = Instant(now).description
            try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ?", arguments: [time, key.id])
            try store.record(db, action: .keyRevoke, subject: key.id, details: ["name": key.name])
            return try fetch(db, id: key.id)!
        }
    }

    /// A new key for the same name and scopes; the old one keeps working for `overlap` seconds
    /// (never past its own expiry), so clients can move over without an outage.
    package func rotate(_ nameOrID: String, overlap: Int = defaultOverlap, lifetime: Int = defaultLifetime)
        throws -> (secret: APIKeySecret, record: APIKeyRecord, old: APIKeyRecord)
    {
        try Self.checkOverlap(overlap)
        return try write { db in
            let now = store.clock.now()
            let old = try resolve(db, nameOrID, at: now)
            if let why = old.refusal(at: now) { throw AccessError(.refused, "key \(old.id) cannot be rotated: \(why)") }
            let scopes = old.scopes.compactMap { try? APIKeyScope(parsing: $0) }
            let (secret, new) = try insert(
                db, name: old.name, owner: old.owner, scopes: scopes, lifetime: lifetime, now: now, action: .keyRotate,
                extra: ["replaces": old.id, "overlap_seconds": String(overlap)])
            let oldEnd = min(
                now.addingTimeInterval(TimeInterval(overlap)), Instant(rfc3339: old.expiresAt)?.date ?? now)
            try db.execute(
                sql: "UPDATE api_keys SET expires_at = ?, replaced_by = ? WHERE id = ?",
                arguments: [Instant(oldEnd).description, new.id, old.id])
            return (secret, new, try fetch(db, id: old.id)!)
        }
    }

    /// The key a request presented, if it is known, unexpired and unrevoked. A read only: a
    /// server notes uses in batches (`noteUses`), so a request costs no write transaction.
    /// Refusals say why without saying whether another key exists.
    package func authenticate(_ presented: String, at now: Date? = nil) throws -> APIKeyRecord {
        let secret = try APIKeySecret(presented: presented)
        let digest = secret.digest
        return try read { db in
            let now = now ?? store.clock.now()
            var found: APIKeyRecord?
            for row in try Row.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM api_keys WHERE prefix = ?"), arguments: [secret.displayPrefix])
            {
                let stored = Digest(parsing: row["digest"] as String)
                if let stored, APIKeySecret.constantTimeEqual(stored, digest) { found = APIKeyRecord(row: row) }
            }
            guard let key = found else { throw AccessError(.unauthorized, "unknown API key \(secret.displayPrefix)…") }
            return try key.admitted(at: now)
        }
    }

    /// Records when and from where keys were last used (one transaction for a batch).
    package func noteUses(_ uses: [KeyUse]) throws {
        guard !uses.isEmpty else { return }
        try write { db in
            for use in uses {
                try db.execute(
                    sql: "UPDATE api_keys SET last_used_at = ?, last_used_from = ? WHERE id = ?",
                    arguments: [Instant(use.time).description, use.address, use.id])
            }
        }
    }

    // MARK: rows

    private func insert(
        _ db: Database, name: String, owner: String, scopes: [APIKeyScope], lifetime: Int, now: Date,
        action: LedgerAction, extra: [String: String] = [:]
    ) throws -> (APIKeySecret, APIKeyRecord) {
        let secret = APIKeySecret.generate()
        let id = Self.id(of: secret)
        let scopeText = Self.scopeText(scopes)
        let expires = Instant(now.addingTimeInterval(TimeInterval(lifetime))).description
        try db.execute(
            sql: """
                INSERT INTO api_keys (id, name, owner, prefix, digest, scopes, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                id, name, owner, secret.displayPrefix, secret.digest.description, scopeText, Instant(now).description,
                expires,
            ])
        try store.record(
            db, action: action, subject: id,
            details: ["name": name, "scopes": scopeText, "expires_at": expires].merging(extra) { first, _ in first })
        return (secret, try fetch(db, id: id)!)
    }

    private func fetch(_ db: Database, id: String) throws -> APIKeyRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id]).map(APIKeyRecord.init(row:))
    }

    private func digestOf(_ db: Database, id: String) throws -> Digest {
        guard let text = try String.fetchOne(db, sql: "SELECT digest FROM api_keys WHERE id = ?", arguments: [id]),
            let digest = Digest(parsing: text)
        else { throw AccessError(.integrity, "api_keys row \(id) has no valid digest") }
        return digest
    }

    /// The newest key of this name that still authenticates.
    private func activeRecord(_ db: Database, named name: String, at now: Date) throws -> APIKeyRecord? {
        try Row.fetchAll(
            db,
            sql:
                "SELECT * FROM api_keys WHERE name = ? AND revoked_at IS NULL AND replaced_by IS NULL ORDER BY created_at DESC",
            arguments: [name]
        ).map(APIKeyRecord.init(row:)).first { $0.refusal(at: now) == nil }
    }

    private func resolve(_ db: Database, _ nameOrID: String, at now: Date) throws -> APIKeyRecord {
        if let byID = try fetch(db, id: nameOrID) { return byID }
        if let byName = try activeRecord(db, named: nameOrID, at: now) { return byName }
        throw AccessError(.notFound, "no key in use named or with id '\(nameOrID)' (fixity server key list)")
    }

    /// What every key store checks before it makes a key (SQLite here, PostgreSQL for replicas).
    package static func checkCreation(name: String, scopes: [APIKeyScope], lifetime: Int) throws(AccessError) {
        try checkName(name)
        guard !scopes.isEmpty else { throw AccessError(.badInput, "key '\(name)': give at least one --scope") }
        guard lifetime > 0, lifetime <= maximumLifetime else {
            throw AccessError(
                .badInput, "key '\(name)': a key expires within \(HumanDuration.describe(maximumLifetime))")
        }
    }

    package static func checkOverlap(_ overlap: Int) throws(AccessError) {
        guard overlap >= 0, overlap <= maximumLifetime else {
            throw AccessError(.badInput, "an overlap is at most \(HumanDuration.describe(maximumLifetime))")
        }
    }

    /// A key's id: `k` and 15 hex digits of its digest (names it in lists and the ledger).
    package static func id(of secret: APIKeySecret) -> String { "k" + String(secret.digest.hex.prefix(15)) }

    /// Scopes as stored: sorted, space-separated.
    package static func scopeText(_ scopes: [APIKeyScope]) -> String {
        Set(scopes).sorted().map(\.description).joined(separator: " ")
    }

    static func checkName(_ name: String) throws(AccessError) {
        guard (1...64).contains(name.utf8.count),
            name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f })
        else {
            throw AccessError(.badInput, "a key name is 1-64 printable ASCII characters without spaces")
        }
    }

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        try store.ensureSchema(APIKeySchema.part)
        return try store.database.storeRead(body)
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        try store.ensureSchema(APIKeySchema.part)
        return try store.database.storeWrite(body)
    }
}

/// One use of a key, as a server batches them for `last_used_at`/`last_used_from`.
package struct KeyUse: Sendable, Equatable {
    package let id: String
    package let time: Date
    package let address: String

    package init(id: String, time: Date, address: String) {
        self.id = id
        self.time = time
        self.address = address
    }
}

/// A key as it is shown the one time it exists in the clear: the record's fields and `key`.
package struct ShownKey: Sendable, Codable {
    package let key: String
    package let record: APIKeyRecord

    package init(key: String, record: APIKeyRecord) {
        self.key = key
        self.record = record
    }

    enum Key: String, CodingKey { case key }

    package init(from decoder: any Decoder) throws {
        key = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: .key)
        record = try APIKeyRecord(from: decoder)
    }

    package func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(key, forKey: .key)
    }
}
