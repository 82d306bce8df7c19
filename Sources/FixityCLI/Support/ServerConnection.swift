import ArgumentParser
import FixityCore
import FixityServer
import Foundation

/// How a command reaches a server: `--server URL` (or `$FIXITY_SERVER`) and the key from
/// `$FIXITY_API_KEY` or `--api-key-file` — never from a flag holding the key itself, which
/// would sit in shell history and in every process listing.
struct ServerConnectionOptions: ParsableArguments {
    @Option(help: "The server's URL (default: $FIXITY_SERVER).") var server: String?
    @Option(help: "A file holding the API key (default: the key in $FIXITY_API_KEY).") var apiKeyFile: String?

    /// For a command whose `--server` is its own option (it works on the local store without one).
    static func to(_ server: String) throws -> ServerConnectionOptions {
        // Parsed, not made: a property wrapper's value exists only once parsed.
        try ServerConnectionOptions.parse(["--server", server])
    }

    /// --server, else $FIXITY_SERVER.
    func url() throws -> String {
        guard let url = server ?? ProcessInfo.processInfo.environment["FIXITY_SERVER"], !url.isEmpty else {
            throw CLIError("no server: give --server URL or set FIXITY_SERVER")
        }
        return url
    }

    func session<T: Sendable>(_ body: @escaping @Sendable (ServerClient) async throws -> T) throws -> T {
        let url = try url()
        let key = try apiKey(ProcessInfo.processInfo.environment)
        return try waitFor { try await ServerClient.session(url: url, key: key, body) }
    }

    private func apiKey(_ environment: [String: String]) throws -> String {
        if let apiKeyFile {
            guard let data = FileManager.default.contents(atPath: apiKeyFile) else {
                throw CLIError("--api-key-file \(apiKeyFile): cannot be read")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let key = environment["FIXITY_API_KEY"], !key.isEmpty else {
            throw CLIError("no API key: set FIXITY_API_KEY or give --api-key-file FILE")
        }
        return key
    }
}
