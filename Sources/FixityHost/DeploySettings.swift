import FixityConfig
import FixityCore
import FixityStore
import TOMLKit

/// How a deployment is run: from the `[deploy]` section of the release's own `fixity.toml`
/// (sealed, so the way a release deploys is itself content), overridden by command-line flags.
///
///     [deploy]
///     health_cmd = "curl -fsS localhost:8080/health"
///     health_timeout = 30        # seconds
///     on_activate = "systemctl reload shop"
///     keep = 3
///     link = "auto"              # auto | reflink | copy | hardlink
///     config_path = "config"
///     immutable = false
///
///     [drift]
///     ignore = ["var/cache", "**/*.sock"]   # paths allowed to change (see IgnoreRules)
package struct DeploySettings: Sendable, Equatable {
    package var healthCommand: String?
    package var healthTimeout: Double = 30
    package var onActivate: String?
    package var keep: Int = 3
    package var linkMode: LinkMode = .auto
    package var configPath: String = "config"
    package var immutable = false
    package var driftIgnore = IgnoreRules.none

    package init() {}

    /// For `seal` and `oci import`: refuses a tree whose `fixity.toml` the deploy would refuse
    /// (unparsable, an unknown key, a bad type), before the release is recorded.
    package static func validateForSeal(_ manifest: Manifest, store: Store) throws {
        do {
            _ = try fromRelease(manifest, store: store)
        } catch let error as any FixityError where error is StoreError || error is ConfigError {
            let message = error.message.replacingOccurrences(
                of: "fixity.toml in release \(manifest.id.short)", with: "fixity.toml")
            throw StoreError(
                .badInput, "\(message); nothing was sealed (a release whose fixity.toml cannot deploy must not exist)")
        }
    }

    /// Reads `[deploy]` from the release's `fixity.toml`, if it has one.
    /// Settings read lately, by the text of their `fixity.toml` (every deploy of a release reads them).
    private static let parsed = ParseMemo<DeploySettings>()

    package static func fromRelease(_ manifest: Manifest, store: Store) throws -> DeploySettings {
        guard let entry = manifest.entry(at: "fixity.toml"), let digest = entry.digest else { return DeploySettings() }
        let text = String(decoding: try store.readObject(digest), as: UTF8.self)
        let where_ = "fixity.toml in release \(manifest.id.short)"
        return try parsed.value(for: text) { try parse(text, where_) }
    }

    private static func parse(_ text: String, _ where_: String) throws -> DeploySettings {
        var settings = DeploySettings()
        return try TOMLDocument.read(text, describing: where_) { table in
            if let drift = table["drift"] {
                guard let section = drift.table else {
                    throw StoreError(.badInput, "\(where_): [drift] must be a table")
                }
                for (key, value) in section {
                    guard key == "ignore" else { throw StoreError(.badInput, "\(where_): unknown key drift.\(key)") }
                    guard let array = value.array, let patterns = Optional(array.compactMap(\.string)),
                        patterns.count == array.count
                    else {
                        throw StoreError(.badInput, "\(where_): drift.ignore must be a list of strings")
                    }
                    do { settings.driftIgnore = try IgnoreRules(patterns) } catch let error as DeployError {
                        throw StoreError(.badInput, "\(where_): \(error.message)")
                    }
                }
            }
            guard let deploy = table["deploy"] else { return settings }
            guard let section = deploy.table else { throw StoreError(.badInput, "\(where_): [deploy] must be a table") }
            for (key, value) in section {
                func bad(_ expected: String) -> StoreError {
                    StoreError(.badInput, "\(where_): deploy.\(key) must be \(expected)")
                }
                switch key {
                case "health_cmd": settings.healthCommand = try value.string ?? { throw bad("a string") }()
                case "health_timeout":
                    guard let seconds = value.double ?? value.int.map(Double.init), seconds > 0 else {
                        throw bad("a positive number of seconds")
                    }
                    settings.healthTimeout = seconds
                case "on_activate": settings.onActivate = try value.string ?? { throw bad("a string") }()
                case "keep":
                    guard let keep = value.int, keep >= 1 else { throw bad("an integer of at least 1") }
                    settings.keep = keep
                case "link":
                    guard let text = value.string, let mode = LinkMode(rawValue: text) else {
                        throw bad("one of auto, reflink, copy, hardlink")
                    }
                    settings.linkMode = mode
                case "config_path": settings.configPath = try value.string ?? { throw bad("a string") }()
                case "immutable": settings.immutable = try value.bool ?? { throw bad("true or false") }()
                default: throw StoreError(.badInput, "\(where_): unknown key deploy.\(key)")
                }
            }
            return settings
        }
    }
}

/// The commands run at a switch to a deployment: recorded at its deploy, so a rollback to it
/// (automatic or by hand) runs its own hooks, not those of the deployment switched away from.
package struct SwitchHooks: Sendable, Codable, Equatable {
    package var onActivate: String?
    package var healthCommand: String?
    package var healthTimeout: Double

    package init(onActivate: String?, healthCommand: String?, healthTimeout: Double) {
        self.onActivate = onActivate
        self.healthCommand = healthCommand
        self.healthTimeout = healthTimeout
    }

    package init(_ settings: DeploySettings) {
        self.init(
            onActivate: settings.onActivate, healthCommand: settings.healthCommand,
            healthTimeout: settings.healthTimeout)
    }

    enum CodingKeys: String, CodingKey {
        case onActivate = "on_activate", healthCommand = "health_cmd", healthTimeout = "health_timeout"
    }
}
