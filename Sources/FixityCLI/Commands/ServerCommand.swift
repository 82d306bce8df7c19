import ArgumentParser
import FixityAccess
import FixityCore
import FixityServer
import FixityStore
import Foundation

/// `fixity server …`: administration of a server's data folder without a running server — the
/// bootstrap of its first keys, and their revocation when the server is down.
struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "Administer a server's data folder (API keys) without a running server.",
        subcommands: [ServerKeyCommand.self])
}

/// The data folder a server serves: an ordinary store.
struct ServerDataOptions: ParsableArguments {
    @Option(help: "The server's data folder (what `fixity serve --data` is given).")
    var data: String

    @Option(help: "The PostgreSQL database of a replicated server (what `fixity serve --database` is given).")
    var database: String?

    @Flag(help: "Print one JSON document on stdout; progress and logs go to stderr.")
    var json = false

    /// Runs `body` on the server's key storage.
    func keys<T: Sendable>(_ body: @escaping @Sendable (ServerKeys) async throws -> T) throws -> T {
        let keys = try ServerKeys(dataFolder: data, database: try database.map { try PostgresURL($0) })
        return try waitFor { try await body(keys) }
    }
}

/// What a new key is: shared by `fixity server key create` and `fixity keys create`.
struct KeyCreationOptions: ParsableArguments {
    @Option(help: "The key's name (what list, revoke and rotate call it).") var name: String
    @Option(help: "A note on who holds it.") var owner: String = ""
    @Option(help: "What it may do; repeat for several.") var scope: [String] = []
    @Option(help: "How long it is valid (default 90d, at most 365d).") var expires: String = "90d"

    /// The scopes, each checked.
    func scopes() throws -> [APIKeyScope] { try scope.map { try APIKeyScope(parsing: $0) } }
}

struct ServerKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "API keys: create (shown once), list, revoke, rotate.",
        subcommands: [Create.self, List.self, Revoke.self, Rotate.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a key; prints it once (only its SHA-256 is kept).",
            discussion: "Scopes: \(APIKeyScope.forms.joined(separator: ", ")). Durations: 90s, 30m, 12h, 30d.")
        @OptionGroup var key: KeyCreationOptions
        @OptionGroup var options: ServerDataOptions

        func run() throws {
            try runReportingFailures {
                let scopes = try key.scopes()
                let lifetime = try HumanDuration.seconds(
                    key.expires, maximum: APIKeyStore.maximumLifetime, what: "--expires")
                let (name, owner) = (key.name, key.owner)
                let shown = try options.keys {
                    try await $0.create(name: name, owner: owner, scopes: scopes, lifetime: lifetime)
                }
                try KeyOutput.shown(shown.key, shown.record, json: options.json)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every key: id, name, scopes, expiry, last use.")
        @OptionGroup var options: ServerDataOptions

        func run() throws {
            try runReportingFailures {
                let keys = try options.keys { try await $0.list() }
                if options.json { return try Output.json(["keys": keys]) }
                if keys.isEmpty { return Output.note("no keys (fixity server key create --data \(options.data) …)") }
                KeyOutput.table(keys)
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key at once (by name or id).")
        @Argument(help: "The key's name or id.") var key: String
        @OptionGroup var options: ServerDataOptions

        func run() throws {
            try runReportingFailures {
                let key = key
                let record = try options.keys { try await $0.revoke(key) }
                if options.json { return try Output.json(record) }
                Output.line("revoked \(record.id) ('\(record.name)') at \(record.revokedAt ?? "?")")
            }
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A new key for the same name and scopes; the old one works for --overlap more.")
        @Argument(help: "The key's name or id.") var key: String
        @Option(help: "How long the old key keeps working (default 24h; 0s ends it now).") var overlap: String = "24h"
        @Option(help: "How long the new key is valid (default 90d, at most 365d).") var expires: String = "90d"
        @OptionGroup var options: ServerDataOptions

        func run() throws {
            try runReportingFailures {
                let overlapSeconds =
                    overlap == "0s"
                    ? 0 : try HumanDuration.seconds(overlap, maximum: APIKeyStore.maximumLifetime, what: "--overlap")
                let lifetime = try HumanDuration.seconds(
                    expires, maximum: APIKeyStore.maximumLifetime, what: "--expires")
                let key = key
                let (shown, old) = try options.keys {
                    try await $0.rotate(key, overlap: overlapSeconds, lifetime: lifetime)
                }
                if !options.json { Output.note("the old key \(old.id) works until \(old.expiresAt)") }
                try KeyOutput.shown(shown.key, shown.record, json: options.json)
            }
        }
    }
}

/// A new key is printed once: the key alone on stdout (for a pipe into a secret store), what it
/// is on stderr.
enum KeyOutput {
    static func shown(_ secret: APIKeySecret, _ record: APIKeyRecord, json: Bool) throws {
        try shown(secret.text, record, json: json)
    }

    static func shown(_ key: String, _ record: APIKeyRecord, json: Bool) throws {
        if json { return try Output.json(ShownKey(key: key, record: record)) }
        Output.line(key)
        Output.note(
            "key \(record.id) '\(record.name)': \(record.scopes.joined(separator: ", ")); expires \(record.expiresAt). Shown once: store it now."
        )
    }

    /// The key list as a table; the state is judged now, on this machine's clock.
    static func table(_ keys: [APIKeyRecord]) {
        let now = Date()
        let rows = keys.map { key in
            [
                key.id, key.name, key.prefix + "…", key.scopes.joined(separator: ","), key.expiresAt,
                key.refusal(at: now) ?? "active",
                key.lastUsedAt.map { "\($0) from \(key.lastUsedFrom ?? "?")" } ?? "never used",
            ]
        }
        Output.line(Output.table([["ID", "NAME", "PREFIX", "SCOPES", "EXPIRES", "STATE", "LAST USED"]] + rows))
    }
}
