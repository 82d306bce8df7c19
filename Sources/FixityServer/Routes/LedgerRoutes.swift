import FixityApp
import FixityCore
import FixityLedger
import Hummingbird

/// The ledger, read by anyone holding `ledger:read`: its size and its entries in order, in the
/// encoding docs/ledger.md defines, so a client can rebuild the Merkle tree itself.
enum LedgerRoutes {
    static let maximumPage = 10_000

    struct Page: Codable {
        let size: Int
        let entries: [LedgerEntry]
    }

    struct Consistency: Codable {
        let from: Int
        let to: Int
        /// Hex hashes (RFC 9162 §2.1.4), oldest subtree first.
        let proof: [String]
        let root: String
    }

    static func add(to v1: RouterGroup<ServerContext>, plane: any ControlPlane, checkpointKey: SigningKey?) {
        // An inclusion proof for entry `seq` in the tree of `size` (default: now), as the
        // self-contained document of docs/ledger.md.
        v1.get("ledger/proof") { request, context -> Response in
            try context.require(.ledgerRead)
            let seq = try number(request, "seq", default: -1)
            let size = request.uri.queryParameters["size"] != nil ? try number(request, "size", default: 0) : nil
            guard seq >= 0 else { throw APIFailure.badInput("give seq, the entry to prove (0 or more)") }
            let log = plane.ledgerLog
            let proof = try await BlockingWork.run { () -> InclusionProof in
                let now = try log.size()
                let tree = size ?? now
                guard tree <= now, seq < tree else {
                    throw APIFailure.notFound("the ledger has \(now) entries; no entry \(seq) in a tree of \(tree)")
                }
                return try log.inclusionProofDocument(seq: Int64(seq), size: tree)
            }
            return try JSONBodies.response(proof)
        }

        // Each environment's desired state and the policy in force at an instant, with proofs.
        v1.get("state") { request, context -> Response in
            try context.require(.ledgerRead)
            guard let text = request.uri.queryParameters["at"] else {
                throw APIFailure.badInput("give at, the instant to answer for (RFC 3339, e.g. 2026-11-29T12:00:00Z)")
            }
            guard let instant = Instant(rfc3339: String(text)) else {
                throw APIFailure.badInput("at='\(text.prefix(80))' is not an RFC 3339 time (e.g. 2026-11-29T12:00:00Z)")
            }
            let env = try request.uri.queryParameters["env"].map { name in
                try ReleaseRoutes.parse("env") { try APIKeyScope(parsing: "promote:\(name)") }
                return String(name)
            }
            let log = plane.ledgerLog
            return try JSONBodies.response(
                try await BlockingWork.run { try ServerStateAt.answer(log, at: instant, env: env) })
        }

        // A consistency proof that the tree of `from` entries is a prefix of the tree of `to`.
        v1.get("ledger/consistency") { request, context -> Response in
            try context.require(.ledgerRead)
            let from = try number(request, "from", default: -1)
            let log = plane.ledgerLog
            let toGiven = request.uri.queryParameters["to"] != nil ? try number(request, "to", default: 0) : nil
            let answer = try await BlockingWork.run { () -> Consistency in
                let now = try log.size()
                let to = toGiven ?? now
                guard to <= now else { throw APIFailure.notFound("the ledger has \(now) entries; no tree of \(to)") }
                guard from >= 0 else { throw APIFailure.badInput("from must be 0 or more") }
                // A tree larger than the one it would be proved against has no such proof.
                guard from <= to else {
                    throw APIFailure.notFound("no consistency proof from \(from) entries to a tree of \(to)")
                }
                let proof = try log.consistencyProof(from: from, to: to)
                return Consistency(
                    from: from, to: to, proof: proof.map(Hex.encode), root: Hex.encode(try log.root(size: to)))
            }
            return try JSONBodies.response(answer)
        }

        v1.get("ledger/checkpoint") { _, context -> Response in
            try context.require(.ledgerRead)
            guard let checkpointKey else {
                throw APIFailure.notFound("this server signs no checkpoints (start it with --checkpoint-key FILE)")
            }
            let note = try await plane.ledgerCheckpoint(signedBy: checkpointKey)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: note)))
        }

        v1.get("ledger") { request, context -> Response in
            try context.require(.ledgerRead)
            let from = try number(request, "from", default: 0)
            let count = try number(request, "count", default: 1000)
            guard from >= 0, (1...maximumPage).contains(count) else {
                throw APIFailure.badInput("from is 0 or more (entries count from 0); count is 1-\(maximumPage)")
            }
            let size = try await plane.ledgerSize()
            let entries = try await plane.ledgerEntries(from: Int64(from), count: count)
            return try JSONBodies.response(Page(size: size, entries: entries))
        }
    }

    static func number(_ request: Request, _ name: String, default value: Int) throws -> Int {
        guard let text = request.uri.queryParameters[Substring(name)] else { return value }
        guard let number = Int(String(text)) else {
            throw APIFailure.badInput("query parameter \(name)='\(text)' is not a whole number")
        }
        return number
    }
}
