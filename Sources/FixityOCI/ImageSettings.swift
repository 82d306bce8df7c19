import FixityConfig
import FixityCore
import FixityStore
import TOMLKit

/// How a release becomes an image: the `[image]` section of the release's `fixity.toml`
/// (`entrypoint`, `cmd`, `env`, `workdir`, `user`, `platform`, `labels`), then flags on top.
package struct ImageSettings: Sendable {
    package var entrypoint: [String]?
    package var cmd: [String]?
    /// `K=V`, in order; a later key replaces an earlier one (and one from the base image).
    package var env: [String] = []
    package var workdir: String?
    package var user: String?
    package var labels: [String: String] = [:]
    package var platform: OCI.Platform?

    package init() {}

    package static func fromRelease(_ manifest: Manifest, store: Store) throws -> ImageSettings {
        var settings = ImageSettings()
        guard let entry = manifest.entry(at: "fixity.toml"), let digest = entry.digest else { return settings }
        let where_ = "fixity.toml in release \(manifest.id.short)"
        return try TOMLDocument.read(String(decoding: try store.readObject(digest), as: UTF8.self), describing: where_)
        { table in
            guard let image = table["image"] else { return settings }
            guard let section = image.table else { throw StoreError(.badInput, "\(where_): [image] must be a table") }
            for (key, value) in section {
                func bad(_ expected: String) -> StoreError {
                    StoreError(.badInput, "\(where_): image.\(key) must be \(expected)")
                }
                func strings() throws -> [String] {
                    guard let array = value.array, let items = Optional(array.compactMap(\.string)),
                        items.count == array.count
                    else { throw bad("a list of strings") }
                    return items
                }
                switch key {
                case "entrypoint": settings.entrypoint = try strings()
                case "cmd": settings.cmd = try strings()
                case "env": settings.env = try strings()
                case "workdir": settings.workdir = try value.string ?? { throw bad("a string") }()
                case "user": settings.user = try value.string ?? { throw bad("a string") }()
                case "platform":
                    do {
                        settings.platform = try OCI.Platform(
                            parsing: try value.string ?? { throw bad("a string such as linux/amd64") }())
                    } catch let error as OCIError {
                        throw StoreError(.badInput, "\(where_): \(error.message)")
                    }
                case "labels":
                    guard let labels = value.table else { throw bad("a table of strings") }
                    for (name, label) in labels {
                        guard let text = label.string else { throw bad("a table of strings") }
                        settings.labels[name] = text
                    }
                default: throw StoreError(.badInput, "\(where_): unknown key image.\(key)")
                }
            }
            for pair in settings.env where !pair.contains("=") {
                throw StoreError(.badInput, "\(where_): image.env '\(pair)' is not K=V")
            }
            return settings
        }
    }

    /// Flags override the file: a list flag given at all replaces the file's list.
    package func overridden(by flags: ImageSettings) -> ImageSettings {
        var merged = self
        if let value = flags.entrypoint { merged.entrypoint = value }
        if let value = flags.cmd { merged.cmd = value }
        merged.env += flags.env
        if let value = flags.workdir { merged.workdir = value }
        if let value = flags.user { merged.user = value }
        merged.labels.merge(flags.labels) { _, new in new }
        if let value = flags.platform { merged.platform = value }
        return merged
    }
}
