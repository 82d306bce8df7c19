import FixityCore
import FixityLedger
import Foundation
import GRDB

/// One row of `fixity releases`.
package struct ReleaseRecord: Sendable, Codable {
    package let release: ReleaseID
    package let app: String
    package let sealedAt: String
    package let files: Int
    package let bytes: Int64
    package let tags: [String]

    enum CodingKeys: String, CodingKey {
        case release, app, sealedAt = "sealed_at", files, bytes, tags
    }

    package init(release: ReleaseID, app: String, sealedAt: String, files: Int, bytes: Int64, tags: [String]) {
        self.release = release
        self.app = app
        self.sealedAt = sealedAt
        self.files = files
        self.bytes = bytes
        self.tags = tags
    }
}

extension Store {
    /// Turns a REF into a release id that the store has recorded.
    package func resolve(_ ref: Ref) throws -> ReleaseID {
        try database.storeRead { db -> ReleaseID in
            switch ref {
            case .id(let id):
                guard
                    try Bool.fetchOne(db, sql: "SELECT 1 FROM releases WHERE id = ?", arguments: [id.description])
                        ?? false
                else {
                    throw StoreError(.notFound, "no release \(id) in the store")
                }
                return id
            case .prefix(let hex):
                let matches = try String.fetchAll(
                    db, sql: "SELECT DISTINCT id FROM releases WHERE id LIKE ? ORDER BY id LIMIT 6",
                    arguments: ["sha256:\(hex)%"])
                guard let first = matches.first, let digest = Digest(parsing: first) else {
                    throw StoreError(.notFound, "no release matches prefix '\(hex)'")
                }
                guard matches.count == 1 else {
                    throw StoreError(
                        .ambiguous,
                        "prefix '\(hex)' is ambiguous: it matches \(matches.map { Digest(parsing: $0)?.short ?? $0 }.joined(separator: ", "))\(matches.count > 5 ? ", …" : "")"
                    )
                }
                return ReleaseID(digest)
            case .tag(let tag):
                // Checked against the ledger's tag entry: a tag deleted and re-inserted elsewhere
                // (or a row whose entry is gone) is refused, never resolved.
                let text = try String.fetchOne(
                    db, sql: "SELECT release FROM tags WHERE app = ? AND version = ?",
                    arguments: [tag.app.value, tag.version])
                try checkTag(db, tag, release: text)
                guard let text, let digest = Digest(parsing: text) else {
                    throw StoreError(.notFound, "no tag \(tag)")
                }
                return ReleaseID(digest)
            }
        }
    }

    /// The verified manifest of a recorded release. A manifest object that does not hash to the
    /// release id, or that fails validation, is an integrity error naming the release.
    package func manifest(_ id: ReleaseID) throws -> Manifest {
        if let known = verifiedManifests.withLock({ $0[id] }) { return known }
        let bytes = try readObject(id.digest)
        let manifest: Manifest
        do {
            manifest = try UnverifiedManifest(bytes: bytes).verified()
        } catch {
            throw StoreError(
                .integrity, "release \(id.short): stored manifest is invalid: \(error.description)",
                path: objectPath(id.digest))
        }
        verifiedManifests.withLock { kept in
            if kept.count >= Self.verifiedManifestsKept { kept.removeAll() }
            kept[id] = manifest
        }
        return manifest
    }

    /// Tags a release. Re-applying the same tag is a no-op (returns false); moving a tag is refused.
    /// A tag names a release of its own app: `releases` lists a release under the apps it was
    /// sealed as, so a tag under another app would be invisible there — it is refused instead.
    @discardableResult
    package func tag(_ tag: TagName, release: ReleaseID) throws -> Bool {
        let lock = try self.lock(.shared, purpose: "tag")
        defer { withExtendedLifetime(lock) {} }
        return try database.storeWrite { db in
            guard
                try Bool.fetchOne(db, sql: "SELECT 1 FROM releases WHERE id = ?", arguments: [release.description])
                    ?? false
            else {
                throw StoreError(.notFound, "no release \(release) in the store")
            }
            let apps = try String.fetchAll(
                db, sql: "SELECT app FROM releases WHERE id = ? ORDER BY app", arguments: [release.description])
            guard apps.contains(tag.app.value) else {
                throw StoreError(
                    .badInput,
                    "release \(release.short) was sealed as \(apps.joined(separator: ", ")), not \(tag.app.value): a tag names a release of its own app (\(apps[0])@\(tag.version)); seal the tree as \(tag.app.value) to give it that name"
                )
            }
            return try recordTag(db, tag, release: release)
        }
    }

    /// Inserts a tag and its history entry; true when new, false when it already named `release`.
    @discardableResult
    func recordTag(_ db: Database, _ tag: TagName, release: ReleaseID) throws -> Bool {
        if let existing = try String.fetchOne(
            db, sql: "SELECT release FROM tags WHERE app = ? AND version = ?", arguments: [tag.app.value, tag.version])
        {
            guard existing == release.description else {
                throw StoreError(
                    .conflict,
                    "tag \(tag) already names \(existing); tags are immutable, so \(release.short) was not tagged and nothing was recorded"
                )
            }
            return false
        }
        try db.execute(
            sql: "INSERT INTO tags (app, version, release, created_at) VALUES (?, ?, ?, ?)",
            arguments: [tag.app.value, tag.version, release.description, clock.timestamp()])
        try record(db, action: .tag, subject: release.description, details: ["tag": tag.description])
        return true
    }

    package func releases(app: AppName?) throws -> [ReleaseRecord] {
        try database.storeRead { db in
            var sql =
                "SELECT r.*, (SELECT group_concat(t.app || '@' || t.version, ' ') FROM tags t WHERE t.release = r.id AND t.app = r.app) AS tag_list FROM releases r"
            var arguments: StatementArguments = []
            if let app {
                sql += " WHERE r.app = ?"
                arguments = [app.value]
            }
            sql += " ORDER BY r.app, r.sealed_at, r.id"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { row in
                let idText: String = row["id"]
                guard let digest = Digest(parsing: idText) else { return nil }
                let tagList: String? = row["tag_list"]
                return ReleaseRecord(
                    release: ReleaseID(digest), app: row["app"], sealedAt: row["sealed_at"], files: row["files"],
                    bytes: row["bytes"], tags: tagList.map { $0.split(separator: " ").map(String.init).sorted() } ?? [])
            }
        }
    }

    /// Every release id the store has recorded, for gc and fsck.
    func allReleaseIDs() throws -> [ReleaseID] {
        try database.storeRead { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT id FROM releases ORDER BY id").compactMap {
                Digest(parsing: $0).map(ReleaseID.init)
            }
        }
    }

    package func history(since: Int64) throws -> [LedgerEntry] {
        try database.storeRead { try History.events($0, since: since) }
    }
}
