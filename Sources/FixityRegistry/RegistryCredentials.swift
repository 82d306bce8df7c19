import FixityCore
import Foundation

/// Credentials for one registry: `--username` with `--password-stdin`, or `~/.docker/config.json`.
package struct RegistryCredentials: Sendable {
    package let username: String
    package let password: String

    package init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `auths[registry].auth` (base64 `user:password`) of the docker config, when there is one.
    package static func fromDockerConfig(registry: String, home: String? = ProcessInfo.processInfo.environment["HOME"])
        -> RegistryCredentials?
    {
        let path =
            ProcessInfo.processInfo.environment["DOCKER_CONFIG"].map { "\($0)/config.json" }
            ?? "\(home ?? "")/.docker/config.json"
        guard let data = FileManager.default.contents(atPath: path),
            let config = try? JSONDecoder().decode(DockerConfig.self, from: data)
        else { return nil }
        for key in [registry, "https://\(registry)", "http://\(registry)"] {
            guard let auth = config.auths?[key]?.auth,
                let decoded = Base64.decode(auth), let text = String(validating: decoded, as: UTF8.self),
                let colon = text.firstIndex(of: ":")
            else { continue }
            return RegistryCredentials(
                username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
        return nil
    }
}

/// The part of `~/.docker/config.json` Fixity reads.
private struct DockerConfig: Decodable {
    struct Auth: Decodable { let auth: String? }
    let auths: [String: Auth]?
}
