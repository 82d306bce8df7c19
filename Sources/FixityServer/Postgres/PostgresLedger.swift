import FixityCore
import FixityLedger
import Foundation
import NIOCore
import PostgresNIO

/// The ledger in PostgreSQL, for server replicas that share one database: the same entries,
/// leaves and perfect subtrees as `SQLiteLedger` (docs/ledger.md), in `ledger_entries`,
/// `ledger_nodes`, `ledger_checkpoints` and `ledger_meta`, all refusing UPDATE and DELETE.
///
/// Appends from any number of replicas are serialized by a transaction-scoped advisory lock
/// taken before the next sequence number is read, so the tree never forks and never skips;
/// the entry and its nodes commit together. Passes `LedgerConformance` like the SQLite ledger.
package struct PostgresLedger: LedgerLog {
    let session: PostgresSession
    /// The advisory lock every append holds (one number for the whole database).
    static let appendLock: Int64 = 0x6669_7869_7479_4c47  // "fixityLG"
    static let schemaLock: Int64 = 0x6669_7869_7479_5343  // "fixitySC"

    /// Opens the ledger on `session`, creating its tables the first time (under a lock, so two
    /// replicas starting together create them once).
    package init(session: PostgresSession) throws {
        self.session = session
        try session.transaction { query in
            try query.rows("SELECT pg_advisory_xact_lock(\(Self.schemaLock))")
            for statement in Self.schema { try query.run(statement) }
            let origin = "fixity.dev/ledger/" + Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
            try query.rows(
                "INSERT INTO ledger_meta (key, value) VALUES ('origin', \(origin)) ON CONFLICT (key) DO NOTHING")
        }
    }

    static let schema = [
        """
        CREATE TABLE IF NOT EXISTS ledger_entries (
            seq BIGINT PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, host TEXT NOT NULL,
            action TEXT NOT NULL, subject TEXT NOT NULL, details TEXT NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS ledger_nodes (
            level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (level, idx))
        """,
        """
        CREATE TABLE IF NOT EXISTS ledger_checkpoints (
            id BIGSERIAL PRIMARY KEY, size BIGINT NOT NULL, root BYTEA NOT NULL, key_id TEXT NOT NULL,
            note TEXT NOT NULL, created_at TEXT NOT NULL)
        """,
        "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """
        CREATE OR REPLACE FUNCTION fixity_append_only() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'the ledger is append-only (% on %)', TG_OP, TG_TABLE_NAME; END $$ LANGUAGE plpgsql
        """,
        """
        CREATE OR REPLACE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
            FOR EACH ROW EXECUTE FUNCTION fixity_append_only()
        """,
        """
        CREATE OR REPLACE TRIGGER ledger_nodes_append_only BEFORE UPDATE OR DELETE ON ledger_nodes
            FOR EACH ROW EXECUTE FUNCTION fixity_append_only()
        """,
        """
        CREATE OR REPLACE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
            FOR EACH ROW EXECUTE FUNCTION fixity_append_only()
        """,
    ]

    /// A handle on a database whose tables exist (a control plane made them at start).
    init(unchecked session: PostgresSession) { self.session = session }

    // MARK: LedgerLog

    @discardableResult
    package func append(action: LedgerAction, subject: String, details: [String: String], at time: Date) throws
        -> LedgerEntry
    {
        try session.transaction { query in
            try Self.append(query, action: action, subject: subject, details: details, at: time)
        }
    }

    /// Appends inside the caller's transaction (a control plane records an entry beside its change).
    package static func append(
        _ query: PostgresSession.Query, action: LedgerAction, subject: String, details: [String: String], at time: Date
    ) throws -> LedgerEntry {
        try query.rows("SELECT pg_advisory_xact_lock(\(appendLock))")
        let next = try size(query)
        let entry = LedgerEntry(
            seq: Int64(next), time: Instant(time).description, actor: Identity.user, host: Identity.host,
            action: action.rawValue, subject: subject, details: details)
        let detailsText = CanonicalJSON.object(details)
        try query.rows(
            """
            INSERT INTO ledger_entries (seq, time, actor, host, action, subject, details)
            VALUES (\(entry.seq), \(entry.time), \(entry.actor), \(entry.host), \(entry.action), \(subject), \(detailsText))
            """)
        var index = next
        var level = 0
        var hash = entry.leafHash
        try insertNode(query, level: 0, index: index, hash: hash)
        while index & 1 == 1 {
            hash = Merkle.nodeHash(try Nodes(query: query).perfectSubtree(level: level, index: index - 1), hash)
            index >>= 1
            level += 1
            try insertNode(query, level: level, index: index, hash: hash)
        }
        return entry
    }

    package func size() throws -> Int { try session.read { try Self.size($0) } }

    package func entry(seq: Int64) throws -> LedgerEntry? { try session.read { try Self.entry($0, seq: seq) } }

    package func entries(actions: Set<LedgerAction>) throws -> [LedgerEntry] {
        guard !actions.isEmpty else { return [] }
        return try session.read { query in
            try query.rows(
                """
                SELECT seq, time, actor, host, action, subject, details FROM ledger_entries
                WHERE action = ANY(\(actions.map(\.rawValue).sorted())) ORDER BY seq
                """
            ).map(Self.entry(from:))
        }
    }

    package func root(size: Int) throws -> Merkle.Hash {
        try session.read { query in
            try Self.checked(size: size, query)
            return try MerkleProver(source: Nodes(query: query)).root(size: size)
        }
    }

    package func inclusionProof(seq: Int64, size: Int) throws -> [Merkle.Hash] {
        try session.read { query in
            try Self.checked(size: size, query)
            guard seq >= 0, seq < size else { throw LedgerError("entry \(seq) is not in a tree of \(size) entries") }
            return try MerkleProver(source: Nodes(query: query)).inclusionProof(index: Int(seq), size: size)
        }
    }

    package func consistencyProof(from oldSize: Int, to newSize: Int) throws -> [Merkle.Hash] {
        try session.read { query in
            try Self.checked(size: newSize, query)
            guard oldSize >= 0, oldSize <= newSize else {
                throw LedgerError("no consistency proof from \(oldSize) to \(newSize) entries")
            }
            return try MerkleProver(source: Nodes(query: query)).consistencyProof(oldSize: oldSize, newSize: newSize)
        }
    }

    package func verify() throws -> Ledger.Verification {
        try session.read { query in try PostgresLedgerVerifier.verify(query) }
    }

    package func signCheckpoint(key: SigningKey, at time: Date) throws -> String {
        try session.transaction { query in
            let size = try Self.size(query)
            let origin = try Self.origin(query)
            let root = try MerkleProver(source: Nodes(query: query)).root(size: size)
            let note = Checkpoint(origin: origin, size: size, root: root).signed(by: key)
            try query.rows(
                """
                INSERT INTO ledger_meta (key, value) VALUES (\("checkpoint-key:\(key.publicKey.id.hex)"), \(key.publicKey.policyText))
                ON CONFLICT (key) DO NOTHING
                """)
            try query.rows(
                """
                INSERT INTO ledger_checkpoints (size, root, key_id, note, created_at)
                VALUES (\(Int64(size)), \(ByteBuffer(bytes: root)), \(key.publicKey.id.hex), \(note), \(Instant(time).description))
                """)
            return note
        }
    }

    package func checkpointKeys() throws -> [PublicKey] {
        try session.read { query in
            try query.rows("SELECT value FROM ledger_meta WHERE key LIKE 'checkpoint-key:%' ORDER BY key").compactMap {
                try? PublicKey(policyText: try $0.decode(String.self))
            }
        }
    }

    package func inclusionProofDocument(seq: Int64, size: Int?) throws -> InclusionProof {
        try session.read { query in
            let treeSize = try size ?? Self.size(query)
            try Self.checked(size: treeSize, query)
            guard seq >= 0, seq < treeSize, let entry = try Self.entry(query, seq: seq) else {
                throw LedgerError("no entry \(seq) in a tree of \(treeSize) entries")
            }
            let bytes = entry.canonicalBytes()
            let leaf = Merkle.leafHash(bytes)
            guard try Nodes(query: query).perfectSubtree(level: 0, index: Int(seq)) == leaf else {
                throw LedgerError("entry \(seq) does not match its leaf: the ledger was edited (fixity log verify)")
            }
            let prover = MerkleProver(source: Nodes(query: query))
            return InclusionProof(
                leafIndex: Int(seq), treeSize: treeSize, leafHash: Hex.encode(leaf),
                rootHash: Hex.encode(try prover.root(size: treeSize)),
                auditPath: try prover.inclusionProof(index: Int(seq), size: treeSize).map(Hex.encode),
                entry: Base64.encode(bytes))
        }
    }

    // MARK: rows

    static func size(_ query: PostgresSession.Query) throws -> Int {
        let rows = try query.rows("SELECT COALESCE(MAX(idx) + 1, 0)::BIGINT FROM ledger_nodes WHERE level = 0")
        return Int(try rows.first?.decode(Int64.self) ?? 0)
    }

    static func origin(_ query: PostgresSession.Query) throws -> String {
        try query.rows("SELECT value FROM ledger_meta WHERE key = 'origin'").first?.decode(String.self)
            ?? "fixity.dev/ledger/unknown"
    }

    static func entry(_ query: PostgresSession.Query, seq: Int64) throws -> LedgerEntry? {
        try query.rows(
            "SELECT seq, time, actor, host, action, subject, details FROM ledger_entries WHERE seq = \(seq)"
        ).first.map(entry(from:))
    }

    static func entry(from row: PostgresRow) throws -> LedgerEntry {
        let (seq, time, actor, host, action, subject, details) = try row.decode(
            (Int64, String, String, String, String, String, String).self)
        return History.entry(
            seq: seq, time: time, actor: actor, host: host, action: action, subject: subject, detailsJSON: details)
    }

    static func insertNode(_ query: PostgresSession.Query, level: Int, index: Int, hash: Merkle.Hash) throws {
        try query.rows(
            "INSERT INTO ledger_nodes (level, idx, hash) VALUES (\(level), \(Int64(index)), \(ByteBuffer(bytes: hash)))"
        )
    }

    static func checked(size: Int, _ query: PostgresSession.Query) throws {
        let have = try Self.size(query)
        guard size >= 0, size <= have else {
            throw LedgerError("the ledger has \(have) entries; no tree of \(size)")
        }
    }

    /// The stored subtrees as a proof source: one indexed lookup each.
    struct Nodes: MerkleNodeSource {
        let query: PostgresSession.Query

        func perfectSubtree(level: Int, index: Int) throws -> Merkle.Hash {
            guard
                let row = try query.rows(
                    "SELECT hash FROM ledger_nodes WHERE level = \(level) AND idx = \(Int64(index))"
                ).first,
                let bytes = try row.decode(ByteBuffer.self).getBytes(at: 0, length: 32)
            else {
                throw LedgerError(
                    "ledger node (\(level), \(index)) is missing or malformed: the ledger is damaged (fixity log verify)"
                )
            }
            return bytes
        }
    }
}
