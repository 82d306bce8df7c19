import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle

/// Tells this replica's cache when any replica changes a key or a desired state: a connection
/// of its own LISTENs on `fixity_catalog`, which the catalog's triggers notify in the writing
/// transaction. PostgreSQL signals listeners as that transaction commits, before its writer is
/// answered, so a change made through one replica reaches the others' caches within the
/// notification's delivery — a network hop, not a poll. While the connection is down nothing is
/// cached (every read goes to the database) and the feed reconnects with backoff.
struct PostgresChangeFeed: Service {
    let url: PostgresURL
    let cache: CatalogCache
    let logger: Logger
    static let channel = "fixity_catalog"

    func run() async throws {
        var backoff = 0.25
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.next(), configuration: url.configuration,
                    id: Int.random(in: 0...Int.max), logger: PostgresSession.logger)
                var lost: (any Error)?
                do {
                    // Closing the connection ends the notifications, and with them this loop.
                    try await withGracefulShutdownHandler {
                        try await connection.listen(on: Self.channel) { notifications in
                            cache.setLive(true)
                            backoff = 0.25
                            for try await _ in notifications { cache.changed() }
                        }
                    } onGracefulShutdown: {
                        connection.close().whenComplete { _ in }
                    }
                } catch {
                    lost = error
                }
                cache.setLive(false)
                try? await connection.close()
                if let lost { throw lost }
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                logger.warning(
                    "lost the change feed from \(url) (\(PostgresSession.Query.describe(error))); reading keys and desired states from the database until it is back"
                )
            }
            cache.setLive(false)
            try? await Task.sleep(for: .seconds(backoff * Double.random(in: 0.5...1.5)))
            backoff = min(backoff * 2, 10)
        }
        cache.setLive(false)
    }
}
