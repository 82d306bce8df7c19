import FixityCore
import Foundation

/// `fixity log verify --server`: the certificate-transparency monitor's job, done by a client
/// that trusts nothing the server says about its own history. It downloads every entry, checks
/// that they are numbered densely from 0, recomputes every leaf and the tree root itself, and,
/// given a checkpoint kept from before, checks that the first `size` entries still hash to that
/// checkpoint's root — the history it vouched for was only appended to. A checkpoint the server
/// signs now is checked against the recomputed tree too (and may be kept for the next audit).
package enum LedgerAudit {
    package struct Report: Sendable, Encodable {
        package let server: String
        package let size: Int
        /// The root this client computed (hex).
        package let root: String
        /// Checked against the checkpoint given: its size, and whether the history matched.
        package let checkpointSize: Int?
        package let consistent: Bool?
        /// The server's own signed checkpoint, when it signs them and it matched the entries.
        package let serverCheckpoint: String?
        package let problems: [String]
        package var ok: Bool { problems.isEmpty }

        enum CodingKeys: String, CodingKey {
            case server, size, root, checkpointSize = "checkpoint_size", consistent
            case serverCheckpoint = "server_checkpoint", problems, ok
        }
        package func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(server, forKey: .server)
            try c.encode(size, forKey: .size)
            try c.encode(root, forKey: .root)
            try c.encodeIfPresent(checkpointSize, forKey: .checkpointSize)
            try c.encodeIfPresent(consistent, forKey: .consistent)
            try c.encodeIfPresent(serverCheckpoint, forKey: .serverCheckpoint)
            try c.encode(problems, forKey: .problems)
            try c.encode(ok, forKey: .ok)
        }
    }

    struct Page: Decodable {
        let size: Int
        let entries: [LedgerEntry]
    }

    /// `held`: a checkpoint kept from before, whose signature the caller already verified.
    /// `serverKeys`: keys that may sign the server's current checkpoint (empty: not fetched).
    package static func run(client: ServerClient, held: Checkpoint?, serverKeys: [PublicKey]) async throws -> Report {
        var problems: [String] = []
        // The server's checkpoint first: the entries fetched afterwards must extend it.
        var serverNote: (Checkpoint, String)?
        if !serverKeys.isEmpty {
            let note = try await client.text(.GET, "/v1/ledger/checkpoint")
            let (checkpoint, text, signatures) = try Checkpoint.parse(note, source: "the server's checkpoint")
            if Checkpoint.verifiedBy(text: text, signatures: signatures, keys: serverKeys).isEmpty {
                problems.append("the server's checkpoint is not signed by a key given with --server-key")
            } else {
                serverNote = (checkpoint, note)
            }
        }
        var leaves: [Merkle.Hash] = []
        var size = 0
        repeat {
            let page: Page = try await client.document(.GET, "/v1/ledger?from=\(leaves.count)&count=10000")
            size = page.size
            for entry in page.entries {
                guard entry.seq == Int64(leaves.count) else {
                    problems.append("the server sent entry \(entry.seq) where entry \(leaves.count) belongs")
                    return report(client, leaves, held: held, serverNote: serverNote, problems: problems)
                }
                leaves.append(entry.leafHash)
            }
            if page.entries.isEmpty && leaves.count < size {
                problems.append("the server says it has \(size) entries but sent only \(leaves.count)")
                break
            }
        } while leaves.count < size
        return report(client, leaves, held: held, serverNote: serverNote, problems: problems)
    }

    private static func report(
        _ client: ServerClient, _ leaves: [Merkle.Hash], held: Checkpoint?, serverNote: (Checkpoint, String)?,
        problems: [String]
    ) -> Report {
        var problems = problems
        var consistent: Bool?
        if let held {
            if held.size > leaves.count {
                consistent = false
                problems.append(
                    "the checkpoint is for \(held.size) entries but the server has \(leaves.count): entries were removed"
                )
            } else {
                consistent = Merkle.root(of: leaves[0..<held.size]) == held.root
                if consistent == false {
                    problems.append(
                        "the server's first \(held.size) entries do not hash to the checkpoint's root: history it vouched for was rewritten"
                    )
                }
            }
        }
        var keptNote: String?
        if let (checkpoint, note) = serverNote {
            if checkpoint.size > leaves.count || Merkle.root(of: leaves[0..<checkpoint.size]) != checkpoint.root {
                problems.append(
                    "the server signed a checkpoint (size \(checkpoint.size)) that its own entries do not match")
            } else {
                keptNote = note
            }
        }
        return Report(
            server: client.base, size: leaves.count, root: Hex.encode(Merkle.root(of: leaves[...])),
            checkpointSize: held?.size, consistent: consistent, serverCheckpoint: keptNote, problems: problems)
    }
}
