import FixityCore
import Hummingbird

/// The ledger, read by anyone holding `ledger:read`: its size and its entries in order, in the
/// encoding docs/ledger.md defines, so a client can rebuild the Merkle tree itself.
enum LedgerRoutes {
    static let maximumPage = 10_000

    struct Page: Codable {
        let size: Int
        let entries: [LedgerEntry]
    }

    static func add(to v1: RouterGroup<ServerContext>, plane: any ControlPlane, checkpointKey: SigningKey?) {
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
