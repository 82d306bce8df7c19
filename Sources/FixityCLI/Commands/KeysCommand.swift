import ArgumentParser
import FixityAccess
import FixityCore
import FixityServer
import Foundation

/// `fixity keys …`: API keys on a running server, with an `admin` key — the same operations as
/// `fixity server key` on the data folder.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "API keys on a running server (needs an admin key).",
        subcommands: [Create.self, List.self, Revoke.self, Rotate.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a key; prints it once.",
            discussion: "Scopes: \(APIKeyScope.forms.joined(separator: ", ")). Durations: 90s, 30m, 12h, 30d.")
        @OptionGroup var key: KeyCreationOptions
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                _ = try key.scopes()
                let creation = KeyRoutes.Creation(
                    name: key.name, owner: key.owner, scopes: key.scope, expires: key.expires)
                let shown = try connection.session { client -> ShownKey in
                    try await client.document(.POST, "/v1/keys", body: creation)
                }
                try KeyOutput.shown(shown.key, shown.record, json: global.json)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every key: id, name, scopes, expiry, last use.")
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let list = try connection.session { client -> KeyRoutes.KeyList in
                    try await client.document(.GET, "/v1/keys")
                }
                if global.json { return try Output.json(list) }
                KeyOutput.table(list.keys)
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key at once (by name or id).")
        @Argument(help: "The key's name or id.") var key: String
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let path = "/v1/keys/\(try Self.segment(key))/revoke"
                let record = try connection.session { client -> APIKeyRecord in
                    try await client.document(.POST, path)
                }
                if global.json { return try Output.json(record) }
                Output.line("revoked \(record.id) ('\(record.name)') at \(record.revokedAt ?? "?")")
            }
        }

        static func segment(_ key: String) throws -> String {
            guard let encoded = key.addingPercentEncoding(withAllowedCharacters: .alphanumerics), !key.isEmpty else {
                throw CLIError("a key name or id is 1-64 printable characters")
            }
            return encoded
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A new key for the same name and scopes; the old one works for --overlap more.")
        @Argument(help: "The key's name or id.") var key: String
        @Option(help: "How long the old key keeps working (default 24h; 0s ends it now).") var overlap: String = "24h"
        @Option(help: "How long the new key is valid (default 90d, at most 365d).") var expires: String = "90d"
        @OptionGroup var connection: ServerConnectionOptions
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let path = "/v1/keys/\(try Revoke.segment(key))/rotate"
                let rotation = KeyRoutes.Rotation(overlap: overlap, expires: expires)
                let rotated = try connection.session { client -> KeyRoutes.Rotated in
                    try await client.document(.POST, path, body: rotation)
                }
                if !global.json { Output.note("the old key \(rotated.old.id) works until \(rotated.old.expiresAt)") }
                try KeyOutput.shown(rotated.new.key, rotated.new.record, json: global.json)
            }
        }
    }
}
