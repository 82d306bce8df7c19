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
    init(_ message: String) { self.message = message }
}

/// One connection used synchronously: every call blocks its thread until PostgreSQL answers, so
/// it is made from thread-pool or Dispatch threads, never from an event loop. Calls are
/// serialized on the connection; a transaction holds it from BEGIN to COMMIT.
package final class PostgresSession: Sendable {
    private let connection: PostgresConnection
    private let lock = Mutex(())
    let url: PostgresURL
    static let logger = Logger(label: "fixity.postgres")

    package init(_ url: PostgresURL) throws {
        self.url = url
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        do {
            connection = try PostgresConnection.connect(
                on: loop, configuration: url.configuration, id: Int.random(in: 0...Int.max), logger: Self.logger
            ).wait()
        } catch {
            throw PostgresFailure("cannot connect to \(url): \(String(reflecting: error))")
        }
    }

    deinit { try? connection.close().wait() }

    /// Runs `body` in one transaction (BEGIN … COMMIT; ROLLBACK when it throws).
    package func transaction<T>(_ body: (Query) throws -> T) throws -> T {
        try lock.withLock { _ in
            let query = Query(connection: connection, url: url)
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
        try lock.withLock { _ in try body(Query(connection: connection, url: url)) }
    }

    /// Statements on a held connection.
    package struct Query {
        let connection: PostgresConnection
        let url: PostgresURL

        @discardableResult
        package func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
            do {
                return try connection.query(query, logger: PostgresSession.logger).wait().rows
            } catch {
                throw PostgresFailure("\(url): \(Self.describe(error))")
            }
        }

        package func run(_ sql: String) throws {
            try rows(PostgresQuery(unsafeSQL: sql))
        }

        static func describe(_ error: any Error) -> String {
            if let error = error as? PSQLError, let message = error.serverInfo?[.message] {
                return message
            }
            return String(reflecting: error)
        }
    }
}
