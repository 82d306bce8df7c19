import FixityCore
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// A `postgres://user[:password]@host[:port]/database` URL, checked before anything connects.
package struct PostgresURL: Sendable, CustomStringConvertible {
    package let host: String
    package let port: Int
    package let user: String
    let password: String?
    package let database: String

    package init(_ text: String) throws(PostgresFailure) {
        guard let url = URL(string: text), url.scheme == "postgres" || url.scheme == "postgresql",
            let host = url.host, !host.isEmpty, let user = url.user, !user.isEmpty
        else {
            throw PostgresFailure("--database: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw PostgresFailure("--database \(Self.redacted(text)): name the database") }
        self.host = host
        port = url.port ?? 5432
        self.user = user
        password = url.password
        self.database = database
    }

    /// The URL without its password, for messages and logs.
    package var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    static func redacted(_ text: String) -> String {
        (try? PostgresURL(text).description) ?? "(unparsable URL)"
    }

    var configuration: PostgresConnection.Configuration {
        PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: .disable)
    }
}

/// A PostgreSQL failure, naming the server (never its password) and what was being done.
package struct PostgresFailure: FixityError, Sendable {
    package let message: String
    package var category: ErrorCategory { .io }
    /// The database could not be reached or did not answer in time (not a statement it
    /// refused): the server answers 503, as `/readyz` does, and the client may retry.
    package let unavailable: Bool
    init(_ message: String, unavailable: Bool = false) {
        self.message = message
        self.unavailable = unavailable
    }
}

/// One connection used synchronously: every call blocks its thread until PostgreSQL answers, so
/// it is made from thread-pool or Dispatch threads, never from an event loop. Calls are
/// serialized on the connection; a transaction holds it from BEGIN to COMMIT.
///
/// The connection is made again whenever it is found closed (a database restart, a failover,
/// a cut network), and every wait has a deadline: connecting `connectDeadline`, each statement
/// `statementDeadline`. A statement past its deadline closes its connection, so the next call
/// starts on a fresh one. Without these a replica hung for good on a database that restarted:
/// threads waited forever on answers that never came, and the thread pool with them.
package final class PostgresSession: Sendable {
    private let connection = Mutex<PostgresConnection?>(nil)
    let url: PostgresURL
    static let logger = Logger(label: "fixity.postgres")
    static let connectDeadline: TimeAmount = .seconds(3)
    static let statementDeadline: TimeAmount = .seconds(15)

    /// Connects at once, so a server with a wrong `--database` says so at start.
    package init(_ url: PostgresURL) throws {
        self.url = url
        try connection.withLock { slot in _ = try connected(&slot) }
    }

    deinit {
        connection.withLock { slot in try? slot?.close().wait() }
    }

    /// Runs `body` in one transaction (BEGIN … COMMIT; ROLLBACK when it throws).
    package func transaction<T>(_ body: (Query) throws -> T) throws -> T {
        try connection.withLock { slot in
            let query = Query(connection: try connected(&slot), url: url)
            try query.run("BEGIN")
            do {
                let result = try body(query)
                try query.run("COMMIT")
                return result
            } catch {
                try? query.run("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs `body` outside a transaction (each statement commits on its own).
    package func read<T>(_ body: (Query) throws -> T) throws -> T {
        try connection.withLock { slot in try body(Query(connection: try connected(&slot), url: url)) }
    }

    /// The open connection, made again when there is none or it was closed.
    private func connected(_ slot: inout PostgresConnection?) throws -> PostgresConnection {
        if let open = slot, !open.isClosed { return open }
        slot = nil
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        do {
            let made = try Self.wait(
                PostgresConnection.connect(
                    on: loop, configuration: url.configuration, id: Int.random(in: 0...Int.max), logger: Self.logger),
                within: Self.connectDeadline)
            slot = made
            return made
        } catch is DeadlinePassed {
            throw PostgresFailure(
                "cannot connect to \(url): no answer within \(Self.connectDeadline.nanoseconds / 1_000_000_000) s",
                unavailable: true)
        } catch {
            throw PostgresFailure("cannot connect to \(url): \(Query.describe(error))", unavailable: true)
        }
    }

    struct DeadlinePassed: Error {}

    /// True for the first caller of `claim()` only.
    final class FirstOnly: Sendable {
        private let taken = Atomic<Bool>(false)
        func claim() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
    }

    /// Waits for `future` at most `deadline`; past it, `DeadlinePassed` (the future may still
    /// complete later: nobody waits for it any more).
    static func wait<T: Sendable>(_ future: EventLoopFuture<T>, within deadline: TimeAmount) throws -> T {
        try bounded(future, within: deadline).wait()
    }

    /// `future`, or `DeadlinePassed` once `deadline` is over, whichever comes first.
    static func bounded<T: Sendable>(_ future: EventLoopFuture<T>, within deadline: TimeAmount) -> EventLoopFuture<T> {
        let loop = future.eventLoop
        let promise = loop.makePromise(of: T.self)
        // Whichever comes first completes the promise; the other finds it taken.
        let first = FirstOnly()
        let timer = loop.scheduleTask(in: deadline) {
            if first.claim() { promise.fail(DeadlinePassed()) }
        }
        future.whenComplete { result in
            guard first.claim() else { return }
            timer.cancel()
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    /// Statements on a held connection.
    package struct Query {
        let connection: PostgresConnection
        let url: PostgresURL

        @discardableResult
        package func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
            do {
                return try PostgresSession.wait(
                    connection.query(query, logger: PostgresSession.logger).map(\.rows),
                    within: PostgresSession.statementDeadline)
            } catch is DeadlinePassed {
                // Whatever the connection was doing, it is not to be trusted with the next call.
                // (Kept alive until closed: a connection must not be released open.)
                connection.close().whenComplete { [connection] _ in withExtendedLifetime(connection) {} }
                throw PostgresFailure(
                    "\(url): no answer within \(PostgresSession.statementDeadline.nanoseconds / 1_000_000_000) s",
                    unavailable: true)
            } catch {
                throw PostgresFailure("\(url): \(Self.describe(error))", unavailable: Self.isConnectionLost(error))
            }
        }

        package func run(_ sql: String) throws {
            try rows(PostgresQuery(unsafeSQL: sql))
        }

        /// The connection failed or went away (rather than PostgreSQL refusing a statement).
        static func isConnectionLost(_ error: any Error) -> Bool {
            guard let error = error as? PSQLError else { return false }
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection: return true
            default:
                // 57P01-57P03: the server is shutting down or cannot take connections now.
                return error.serverInfo?[.sqlState]?.hasPrefix("57P") == true
            }
        }

        /// What PostgreSQL said, or what kept it from saying anything — never a type's dump.
        static func describe(_ error: any Error) -> String {
            if let error = error as? PSQLError {
                if let message = error.serverInfo?[.message] {
                    let code = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                    return message + code
                }
                switch error.code {
                case .connectionError:
                    return "cannot reach the database"
                        + (error.underlying.map { ": \(TransportFailure.describe($0))" } ?? "")
                case .serverClosedConnection, .clientClosedConnection:
                    return "the database closed the connection"
                default:
                    return "\(error.code)"
                        + (error.underlying.map { ": \(TransportFailure.describe($0))" } ?? "")
                }
            }
            return TransportFailure.describe(error)
        }
    }
}

/// `/readyz`'s question — does the database answer now? — asked on a connection of its own,
/// without a thread: a readiness probe must answer within its second even while every pool
/// thread waits on a database that went away.
package final class PostgresProbe: Sendable {
    private let connection = Mutex<EventLoopFuture<PostgresConnection>?>(nil)
    let url: PostgresURL

    package init(_ url: PostgresURL) { self.url = url }

    deinit {
        connection.withLock { slot in
            slot?.whenSuccess { open in open.close().whenComplete { _ in withExtendedLifetime(open) {} } }
        }
    }

    package func ping(within deadline: TimeAmount) async throws {
        let made = connection.withLock { slot -> EventLoopFuture<PostgresConnection> in
            if let current = slot { return current }
            let future = PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: url.configuration,
                id: Int.random(in: 0...Int.max), logger: PostgresSession.logger)
            slot = future
            return future
        }
        let answered = made.flatMap { open -> EventLoopFuture<Void> in
            guard !open.isClosed else {
                return open.eventLoop.makeFailedFuture(PostgresFailure("\(self.url): the connection closed"))
            }
            return open.query("SELECT 1", logger: PostgresSession.logger).map { _ in () }
        }
        do {
            try await PostgresSession.bounded(answered, within: deadline).get()
        } catch {
            // Start from a new connection next time; close this one whenever it completes.
            connection.withLock { slot in
                if slot === made { slot = nil }
            }
            made.whenSuccess { open in open.close().whenComplete { _ in withExtendedLifetime(open) {} } }
            if error is PostgresSession.DeadlinePassed {
                throw PostgresFailure("\(url): no answer within \(deadline.nanoseconds / 1_000_000) ms")
            }
            throw PostgresFailure("\(url): \(PostgresSession.Query.describe(error))")
        }
    }
}
