import NIOPosix

/// Where the blocking half of every use case runs when it is called from async code: file
/// walks and hashing, SQLite transactions, child processes (hooks, health checks, `git`). They
/// run on NIO's shared thread pool, so a server's event loop or Swift's cooperative pool awaits
/// them without a thread of theirs ever blocking.
///
/// The CLI calls the synchronous form of each use case directly: a command is one thread doing
/// one thing, and a hop through a pool would only add to `fixity verify`'s start.
package enum BlockingWork {
    package static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}
