import FixityCore
import Foundation
import GRDB

/// The history as an RFC 6962 Merkle log in the store's SQLite database (docs/ledger.md).
///
/// Entries are the `history` rows; their leaf hashes and every completed perfect subtree are kept
/// in `ledger_nodes (level, idx, hash)`, written in the same transaction as the entry, so a root
/// or a proof at any size is O(log² n) lookups. Signed checkpoints are kept in
/// `ledger_checkpoints`. Both tables refuse UPDATE and DELETE, like `history`.
package enum Ledger {
    static func registerTables(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("ledger-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE ledger_nodes (
                        level INTEGER NOT NULL,
                        idx INTEGER NOT NULL,
                        hash BLOB NOT NULL,
                        PRIMARY KEY (level, idx)
                    ) WITHOUT ROWID;
                    CREATE TABLE ledger_checkpoints (
                        size INTEGER NOT NULL,
                        root BLOB NOT NULL,
                        key_id TEXT NOT NULL,
                        note TEXT NOT NULL,
                        created_at TEXT NOT NULL
                    );
                    CREATE TABLE ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    """)
            let origin = "fixity.dev/ledger/" + Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
            try db.execute(sql: "INSERT INTO ledger_meta (key, value) VALUES ('origin', ?)", arguments: [origin])
            // A store from before the ledger: its history becomes the first leaves.
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM history ORDER BY seq")
            while let row = try rows.next() { try appendNodes(db, entry: History.entry(from: row)) }
            try db.execute(
                sql: """
                    CREATE TRIGGER ledger_nodes_no_update BEFORE UPDATE ON ledger_nodes
                        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
                    CREATE TRIGGER ledger_nodes_no_delete BEFORE DELETE ON ledger_nodes
                        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
                    CREATE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
                        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
                    CREATE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints
                        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
                    """)
        }
    }

    /// Adds an entry's leaf and the perfect subtrees it completes.
    static func appendNodes(_ db: Database, entry: LedgerEntry) throws {
        var index = Int(entry.seq)
        var level = 0
        var hash = entry.leafHash
        let insert = try db.cachedStatement(sql: "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)")
        try insert.execute(arguments: [0, index, Data(hash)])
        while index & 1 == 1 {
            let left = try Nodes(db: db).perfectSubtree(level: level, index: index - 1)
            hash = Merkle.nodeHash(left, hash)
            index >>= 1
            level += 1
            try insert.execute(arguments: [level, index, Data(hash)])
        }
    }

    /// The stored nodes as a proof source.
    package struct Nodes: MerkleNodeSource {
        let db: Database
        package init(db: Database) { self.db = db }
        package func perfectSubtree(level: Int, index: Int) throws -> Merkle.Hash {
            let select = try db.cachedStatement(sql: "SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?")
            guard let data = try Data.fetchOne(select, arguments: [level, index]), data.count == 32 else {
                throw LedgerError(
                    "ledger node (\(level), \(index)) is missing or malformed: the ledger is damaged (fixity log verify)"
                )
            }
            return [UInt8](data)
        }
    }

    package static func size(_ db: Database) throws -> Int {
        // One descent of the (level, idx) key, not a count of a million leaves; verify checks
        // that the leaves are exactly 0..<size.
        try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_nodes WHERE level = 0") ?? 0
    }

    package static func origin(_ db: Database) throws -> String {
        try String.fetchOne(db, sql: "SELECT value FROM ledger_meta WHERE key = 'origin'")
            ?? "fixity.dev/ledger/unknown"
    }

    package static func prover(_ db: Database) -> MerkleProver<Nodes> { MerkleProver(source: Nodes(db: db)) }

    package static func entry(_ db: Database, seq: Int64) throws -> LedgerEntry? {
        try Row.fetchOne(db, sql: "SELECT * FROM history WHERE seq = ?", arguments: [seq]).map(History.entry(from:))
    }

    // MARK: Checkpoints

    package struct StoredCheckpoint: Sendable, Encodable {
        package let size: Int
        package let root: String
        package let keyID: String
        package let note: String
        package let createdAt: String
        enum CodingKeys: String, CodingKey { case size, root, keyID = "key_id", note, createdAt = "created_at" }
    }

    /// Public keys that signed this store's checkpoints, so `log verify --checkpoint` knows them.
    package static func checkpointKeys(_ db: Database) throws -> [PublicKey] {
        try String.fetchAll(db, sql: "SELECT value FROM ledger_meta WHERE key LIKE 'checkpoint-key:%'").compactMap {
            try? PublicKey(policyText: $0)
        }
    }

    /// Signs the tree as it is now and keeps the note; returns it.
    package static func signCheckpoint(_ db: Database, key: SigningKey, at time: Date) throws -> String {
        let size = try size(db)
        let checkpoint = Checkpoint(origin: try origin(db), size: size, root: try prover(db).root(size: size))
        let note = checkpoint.signed(by: key)
        try saveCheckpoint(db, size: size, root: checkpoint.root, key: key.publicKey, note: note, at: time)
        return note
    }

    package static func saveCheckpoint(
        _ db: Database, size: Int, root: Merkle.Hash, key: PublicKey, note: String, at time: Date
    ) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO ledger_meta (key, value) VALUES (?, ?)",
            arguments: ["checkpoint-key:\(key.id.hex)", key.policyText])
        let keyID = key.id
        try db.execute(
            sql: "INSERT INTO ledger_checkpoints (size, root, key_id, note, created_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [size, Data(root), keyID.hex, note, Instant(time).description])
    }

    /// The newest stored checkpoint that covers the first `needed` entries, its root checked
    /// against the tree at its size (a mismatch means the ledger was rewritten: an error).
    package static func newestCheckpoint(_ db: Database, covering needed: Int) throws -> StoredCheckpoint? {
        let size = try size(db)
        guard let checkpoint = try checkpoints(db).last(where: { $0.size >= needed && $0.size <= size }) else {
            return nil
        }
        guard Hex.encode(try prover(db).root(size: checkpoint.size)) == checkpoint.root else {
            throw LedgerError(
                "the ledger's tree at size \(checkpoint.size) does not match its stored checkpoint: the ledger was rewritten (fixity log verify)"
            )
        }
        return checkpoint
    }

    package static func checkpoints(_ db: Database) throws -> [StoredCheckpoint] {
        try Row.fetchAll(db, sql: "SELECT * FROM ledger_checkpoints ORDER BY rowid").map { row in
            StoredCheckpoint(
                size: row["size"], root: Hex.encode([UInt8](row["root"] as Data)), keyID: row["key_id"],
                note: row["note"], createdAt: row["created_at"])
        }
    }

    // MARK: Verification

    package struct Verification: Sendable, Encodable {
        package let size: Int
        package let root: String
        package let ok: Bool
        /// The first sequence number whose entry, leaf or subtree does not check out.
        package let firstBadSeq: Int64?
        package let problems: [String]
        package let checkpointsChecked: Int
        enum CodingKeys: String, CodingKey {
            case size, root, ok, firstBadSeq = "first_bad_seq", problems, checkpointsChecked = "checkpoints_checked"
        }

        package init(
            size: Int, root: String, ok: Bool, firstBadSeq: Int64?, problems: [String], checkpointsChecked: Int
        ) {
            self.size = size
            self.root = root
            self.ok = ok
            self.firstBadSeq = firstBadSeq
            self.problems = problems
            self.checkpointsChecked = checkpointsChecked
        }
    }

    /// Recomputes every leaf from its entry and every subtree from the leaves, compares them with
    /// what is stored, and checks every stored checkpoint's root against the tree at its size.
    ///
    /// Streams: one cursor over the entries, one per tree level over the stored nodes (a level's
    /// subtrees complete in index order as the leaves go by), and the frontier of completed
    /// subtrees — O(log n) memory at any size.
    package static func verify(_ db: Database) throws -> Verification {
        var problems = [String]()
        var firstBad: Int64?
        func bad(_ seq: Int64, _ message: String) {
            if firstBad == nil { firstBad = seq }
            if problems.count < 20 { problems.append(message) }
        }
        var levels = [LevelCursor]()
        func level(_ n: Int) throws -> LevelCursor {
            while levels.count <= n { levels.append(try LevelCursor(db, level: levels.count)) }
            return levels[n]
        }
        let leaves = try level(0)
        var frontier = MerkleFrontier()
        var expected: Int64 = 0
        var structureBroken = false
        let entries = try Row.fetchCursor(db, sql: "SELECT \(History.entryColumns) FROM history ORDER BY seq")
        while let row = try entries.next() {
            let entry = History.entry(byPosition: row)
            if entry.seq != expected {
                // The subtrees can no longer be rebuilt in step; the first bad entry is known.
                structureBroken = true
                bad(
                    expected,
                    entry.seq > expected
                        ? "entries \(expected)…\(entry.seq - 1) are missing (deleted?)"
                        : "entry \(entry.seq) is out of order")
                expected = entry.seq
            }
            let leaf = entry.leafHash
            let index = Int(entry.seq)
            switch try leaves.advance(to: index) {
            case .missing: bad(entry.seq, "entry \(entry.seq) has no leaf in the tree (appended outside Fixity?)")
            case .found(let stored) where !Self.same(stored, leaf):
                bad(entry.seq, "entry \(entry.seq) does not match its leaf hash (edited, or swapped with another)")
            case .found: break
            }
            expected += 1
            guard !structureBroken else { continue }
            // Recompute the subtrees this leaf completes and compare with the stored ones.
            for subtree in frontier.add(leaf: leaf) {
                switch try level(subtree.level).advance(to: subtree.index) {
                case .missing:
                    bad(
                        entry.seq,
                        "subtree (\(subtree.level), \(subtree.index)) ending at entry \(entry.seq) is missing")
                case .found(let stored) where !Self.same(stored, subtree.hash):
                    bad(
                        entry.seq,
                        "subtree (\(subtree.level), \(subtree.index)) ending at entry \(entry.seq) does not match")
                case .found: break
                }
            }
        }
        let size = Int(expected)
        let leafCount = leaves.consumed + (try leaves.remaining())
        if leafCount > size {
            bad(
                expected,
                "the tree has \(leafCount) leaves but only \(size) entries remain: entries from \(size) on were deleted (truncated)"
            )
        }
        for cursor in levels where cursor.outOfSequence > 0 {
            bad(Int64(size), "\(cursor.outOfSequence) ledger nodes at level \(cursor.level) are out of sequence")
        }
        // The root of the recomputed tree (RFC 6962 MTH); unknown once the sequence broke.
        let root = structureBroken ? Merkle.emptyRoot : frontier.root
        var checked = 0
        for checkpoint in try checkpoints(db) {
            checked += 1
            if checkpoint.size > size {
                bad(
                    Int64(size),
                    "checkpoint of \(checkpoint.createdAt) is for \(checkpoint.size) entries but the ledger has \(size): truncated"
                )
            } else if problems.isEmpty, Hex.encode(try prover(db).root(size: checkpoint.size)) != checkpoint.root {
                bad(
                    Int64(checkpoint.size - 1),
                    "checkpoint of \(checkpoint.createdAt) (size \(checkpoint.size)) does not match the tree: history rewritten"
                )
            }
        }
        return Verification(
            size: size, root: Hex.encode(root), ok: problems.isEmpty, firstBadSeq: firstBad, problems: problems,
            checkpointsChecked: checked)
    }

    private static func same(_ stored: Data, _ hash: Merkle.Hash) -> Bool {
        stored.count == hash.count
            && stored.withUnsafeBytes { a in
                hash.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, b.count) == 0 }
            }
    }

    /// The stored nodes of one level, read in index order alongside the recomputation.
    private final class LevelCursor {
        enum Lookup { case found(Data), missing }
        let level: Int
        private let cursor: RowCursor
        private var pending: (index: Int, hash: Data)?
        private(set) var consumed = 0
        private(set) var outOfSequence = 0

        init(_ db: Database, level: Int) throws {
            self.level = level
            cursor = try Row.fetchCursor(
                db, sql: "SELECT idx, hash FROM ledger_nodes WHERE level = ? ORDER BY idx", arguments: [level])
        }

        private func peek() throws -> (index: Int, hash: Data)? {
            if pending == nil, let row = try cursor.next() { pending = (row[0], row[1]) }
            return pending
        }

        /// The node at `index`, skipping (and counting) any stored before it.
        func advance(to index: Int) throws -> Lookup {
            while let next = try peek(), next.index < index {
                pending = nil
                consumed += 1
                outOfSequence += 1
            }
            guard let next = try peek(), next.index == index else { return .missing }
            pending = nil
            consumed += 1
            return .found(next.hash)
        }

        func remaining() throws -> Int {
            var count = 0
            while try peek() != nil {
                pending = nil
                count += 1
            }
            return count
        }
    }
}
