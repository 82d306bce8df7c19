import Synchronization

/// A few `PostgresSession`s that a server's requests share: each call takes the next session in
/// turn and holds it for one statement or transaction (sessions serialize themselves). Every
/// replica has its own pool; PostgreSQL serializes what must be serial (the ledger's lock).
package final class PostgresPool: Sendable {
    let sessions: [PostgresSession]
    private let next = Atomic<Int>(0)
    package let url: PostgresURL

    package init(_ url: PostgresURL, size: Int = 4) throws {
        self.url = url
        sessions = try (0..<max(1, size)).map { _ in try PostgresSession(url) }
    }

    var session: PostgresSession {
        sessions[next.add(1, ordering: .relaxed).oldValue % sessions.count]
    }

    package func transaction<T>(_ body: (PostgresSession.Query) throws -> T) throws -> T {
        try session.transaction(body)
    }

    package func read<T>(_ body: (PostgresSession.Query) throws -> T) throws -> T { try session.read(body) }
}
