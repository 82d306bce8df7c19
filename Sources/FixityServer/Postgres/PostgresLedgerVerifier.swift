import FixityCore
import FixityLedger
import NIOCore
import PostgresNIO

/// `verify` for the PostgreSQL ledger: every leaf recomputed from its entry and every subtree
/// from the leaves, compared with the stored nodes, and every stored checkpoint's root checked
/// against the tree at its size — the checks and messages of the SQLite ledger's `verify`.
/// Entries stream in pages; the stored nodes of a page's range are read per level alongside.
enum PostgresLedgerVerifier {
    static let page: Int64 = 10_000

    static func verify(_ query: PostgresSession.Query) throws -> Ledger.Verification {
        var problems = [String]()
        var firstBad: Int64?
        func bad(_ seq: Int64, _ message: String) {
            if firstBad == nil { firstBad = seq }
            if problems.count < 20 { problems.append(message) }
        }
        var frontier = MerkleFrontier()
        var expected: Int64 = 0
        var structureBroken = false
        var from: Int64 = 0
        while true {
            let rows = try query.rows(
                """
                SELECT seq, time, actor, host, action, subject, details FROM ledger_entries
                WHERE seq >= \(from) ORDER BY seq LIMIT \(page)
                """)
            if rows.isEmpty { break }
            let entries = try rows.map(PostgresLedger.entry(from:))
            let first = entries.first!.seq
            let last = entries.last!.seq
            // The stored nodes covering this page, by level: a leaf range, then halves of it.
            var stored: [Int: [Int64: Merkle.Hash]] = [:]
            for row in try query.rows(
                """
                SELECT level, idx, hash FROM ledger_nodes
                WHERE idx >= (\(first) >> level) AND idx <= (\(last) >> level)
                """)
            {
                let (level, index, buffer) = try row.decode((Int32, Int64, ByteBuffer).self)
                stored[Int(level), default: [:]][index] = buffer.getBytes(at: 0, length: buffer.readableBytes)
            }
            for entry in entries {
                if entry.seq != expected {
                    structureBroken = true
                    bad(
                        expected,
                        entry.seq > expected
                            ? "entries \(expected)…\(entry.seq - 1) are missing (deleted?)"
                            : "entry \(entry.seq) is out of order")
                    expected = entry.seq
                }
                let leaf = entry.leafHash
                switch stored[0]?[entry.seq] {
                case nil: bad(entry.seq, "entry \(entry.seq) has no leaf in the tree (appended outside Fixity?)")
                case let hash? where hash != leaf:
                    bad(entry.seq, "entry \(entry.seq) does not match its leaf hash (edited, or swapped with another)")
                default: break
                }
                expected += 1
                guard !structureBroken else { continue }
                for subtree in frontier.add(leaf: leaf) {
                    let place = "subtree (\(subtree.level), \(subtree.index)) ending at entry \(entry.seq)"
                    switch stored[subtree.level]?[Int64(subtree.index)] {
                    case nil: bad(entry.seq, "\(place) is missing")
                    case let node? where node != subtree.hash: bad(entry.seq, "\(place) does not match")
                    default: break
                    }
                }
            }
            from = last + 1
        }
        let size = Int(expected)
        let leafCount = try PostgresLedger.size(query)
        if leafCount > size {
            bad(
                expected,
                "the tree has \(leafCount) leaves but only \(size) entries remain: entries from \(size) on were deleted (truncated)"
            )
        }
        let root = structureBroken ? Merkle.emptyRoot : frontier.root
        var checked = 0
        for row in try query.rows("SELECT size, root, created_at FROM ledger_checkpoints ORDER BY id") {
            let (checkpointSize, buffer, createdAt) = try row.decode((Int64, ByteBuffer, String).self)
            checked += 1
            if Int(checkpointSize) > size {
                bad(
                    Int64(size),
                    "checkpoint of \(createdAt) is for \(checkpointSize) entries but the ledger has \(size): truncated")
            } else if problems.isEmpty,
                try MerkleProver(source: PostgresLedger.Nodes(query: query)).root(size: Int(checkpointSize))
                    != buffer.getBytes(at: 0, length: buffer.readableBytes)
            {
                bad(
                    checkpointSize - 1,
                    "checkpoint of \(createdAt) (size \(checkpointSize)) does not match the tree: history rewritten")
            }
        }
        return Ledger.Verification(
            size: size, root: Hex.encode(root), ok: problems.isEmpty, firstBadSeq: firstBad, problems: problems,
            checkpointsChecked: checked)
    }
}
