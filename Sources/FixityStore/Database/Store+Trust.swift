import FixityCore
import FixityLedger
import Foundation
import GRDB

/// One stored envelope and what it says, for `fixity signatures`.
package struct StoredEnvelope: Sendable, Encodable {
    package let digest: Digest
    package let release: ReleaseID
    package let predicateType: String
    package let keyIDs: [String]
    package let addedAt: String
    package let envelope: DSSEEnvelope

    enum CodingKeys: String, CodingKey {
        case digest, release, predicateType = "predicate_type", keyIDs = "key_ids", addedAt = "added_at", envelope
    }
}

/// A policy as set, for `policy show` and `policy history`.
package struct StoredPolicy: Sendable, Encodable {
    package let seq: Int64
    package let digest: Digest
    package let text: String
    package let setAt: String

    enum CodingKeys: String, CodingKey { case seq, digest, text, setAt = "set_at" }
}

extension Store {
    /// Stores an envelope about `release` after checking that it is well formed and that its
    /// statement names this release. Signatures are checked by whoever evaluates a policy, with
    /// the keys that policy trusts. Adding the same envelope again is a no-op (returns false).
    @discardableResult
    package func addEnvelope(_ envelope: DSSEEnvelope, about release: ReleaseID, source: String) throws -> Bool {
        let statement = try Self.statement(of: envelope, source: source)
        guard statement.names(release) else {
            let named = statement.subject.compactMap { $0.digest["sha256"] }.map { String($0.prefix(12)) }.joined(
                separator: ", ")
            throw StoreError(.badInput, "\(source): the statement is about \(named), not release \(release.short)")
        }
        let bytes = envelope.jsonBytes()
        let digest = Digest.of(bytes)
        let keyIDs = envelope.signatures.map(\.keyid)
        return try database.storeWrite { db in
            guard
                try Bool.fetchOne(db, sql: "SELECT 1 FROM releases WHERE id = ?", arguments: [release.description])
                    ?? false
            else {
                throw StoreError(.notFound, "no release \(release) in the store")
            }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM envelopes WHERE digest = ?", arguments: [digest.description])
                ?? false
            {
                return false
            }
            try db.execute(
                sql:
                    "INSERT INTO envelopes (digest, release, predicate_type, key_ids, envelope, added_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    digest.description, release.description, statement.predicateType, keyIDs.joined(separator: ","),
                    String(decoding: bytes, as: UTF8.self), clock.timestamp(),
                ])
            let action =
                statement.predicateType == InTotoStatement.PredicateType.testResult ? LedgerAction.attest : .sign
            try record(
                db, action: action, subject: release.description,
                details: [
                    "predicate_type": statement.predicateType, "key_ids": keyIDs.joined(separator: ","),
                    "envelope": digest.description,
                ])
            return true
        }
    }

    private static func statement(of envelope: DSSEEnvelope, source: String) throws(StoreError) -> InTotoStatement {
        do {
            return try InTotoStatement(payload: envelope.payloadBytes, source: source)
        } catch {
            throw StoreError(.badInput, error.message)
        }
    }

    /// Whether any envelope of this predicate type is stored about `release`.
    package func hasEnvelope(about release: ReleaseID, predicateType: String) throws -> Bool {
        try database.storeRead { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM envelopes WHERE release = ? AND predicate_type = ? LIMIT 1",
                arguments: [release.description, predicateType]) ?? false
        }
    }

    /// The envelopes about `release`, each checked against its digest and the ledger entry that
    /// recorded it (a row inserted or edited behind Fixity's back is refused, not counted).
    /// The exact stored text of every envelope about `release`, oldest first, inside the
    /// caller's read (a proof bundle reads them in the same snapshot as the ledger entries that
    /// hash them).
    package func envelopeTexts(_ db: Database, about release: ReleaseID) throws -> [[UInt8]] {
        try String.fetchAll(
            db, sql: "SELECT envelope FROM envelopes WHERE release = ? ORDER BY added_at, digest",
            arguments: [release.description]
        ).map { Array($0.utf8) }
    }

    package func envelopes(about release: ReleaseID) throws -> [StoredEnvelope] {
        try database.storeRead { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM envelopes WHERE release = ? ORDER BY added_at, digest",
                arguments: [release.description]
            ).compactMap { row in
                let text: String = row["envelope"]
                guard let envelope = try? JSONDecoder().decode(DSSEEnvelope.self, from: Data(text.utf8)),
                    let digest = Digest(parsing: row["digest"] as String)
                else {
                    throw StoreError(.integrity, "stored envelope for \(release.short) is corrupt")
                }
                try checkEnvelopeRow(db, digest: digest, release: release.description, text: text)
                let ids: String = row["key_ids"]
                return StoredEnvelope(
                    digest: digest, release: release, predicateType: row["predicate_type"],
                    keyIDs: ids.split(separator: ",").map(String.init),
                    addedAt: row["added_at"], envelope: envelope)
            }
        }
    }

    /// Records a policy (already validated by the caller) and its history entry.
    package func setPolicy(text: String, summary: [String: String]) throws -> StoredPolicy {
        try database.storeWrite { db in try setPolicy(db, text: text, summary: summary) }
    }

    /// The same inside the caller's transaction (a server records its signed copy beside it).
    package func setPolicy(_ db: Database, text: String, summary: [String: String]) throws -> StoredPolicy {
        let digest = Digest.of(Array(text.utf8))
        let now = clock.timestamp()
        let seq = (try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq) + 1, 0) FROM policies")) ?? 0
        try db.execute(
            sql: "INSERT INTO policies (seq, digest, text, set_at) VALUES (?, ?, ?, ?)",
            arguments: [seq, digest.description, text, now])
        try record(
            db, action: .policy, subject: digest.description,
            details: summary.merging(["policy_seq": String(seq)]) { a, _ in a })
        return StoredPolicy(seq: seq, digest: digest, text: text, setAt: now)
    }

    /// The policy in force: the newest row, checked against its text digest and against the
    /// ledger's newest policy entry (a replaced text, or a row deleted or inserted, is refused).
    package func currentPolicy() throws -> StoredPolicy? {
        try database.storeRead { db in try currentPolicy(db) }
    }

    /// The same inside the caller's transaction.
    package func currentPolicy(_ db: Database) throws -> StoredPolicy? {
        let newest = try Self.policyRows(db, newestFirst: true, limit: 1).first
        try checkPolicyRow(db, newest)
        return newest
    }

    /// Every policy set, each row's text checked against its digest.
    package func policies(newestFirst: Bool = false, limit: Int = -1) throws -> [StoredPolicy] {
        try database.storeRead { db in
            let rows = try Self.policyRows(db, newestFirst: newestFirst, limit: limit)
            for policy in rows where Digest.of(Array(policy.text.utf8)) != policy.digest {
                throw Self.tableEdited(
                    "policy \(policy.digest.short) (row \(policy.seq)): its text does not hash to its digest")
            }
            return rows
        }
    }

    private static func policyRows(_ db: Database, newestFirst: Bool, limit: Int) throws -> [StoredPolicy] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM policies ORDER BY seq \(newestFirst ? "DESC" : "ASC") LIMIT ?", arguments: [limit]
        ).map { row in
            guard let digest = Digest(parsing: row["digest"] as String) else {
                throw StoreError(.integrity, "stored policy has a bad digest")
            }
            return StoredPolicy(seq: row["seq"], digest: digest, text: row["text"], setAt: row["set_at"])
        }
    }
}

extension Store {
    /// The app a release was sealed for (the first, when the same tree was sealed for several).
    package func app(of release: ReleaseID) throws -> String {
        try database.storeRead { db in
            guard
                let app = try String.fetchOne(
                    db, sql: "SELECT app FROM releases WHERE id = ? ORDER BY sealed_at LIMIT 1",
                    arguments: [release.description])
            else {
                throw StoreError(.notFound, "no release \(release) in the store")
            }
            return app
        }
    }
}
