/// An app release plus, optionally, a config release mounted at a path inside it. Its id is the
/// SHA-256 of a canonical description of the pair, so the same pair is the same deployment on
/// every host, and rollback always restores app and config together.
///
///     fixity-deployment 1\n
///     release sha256:<hex>\n
///     config sha256:<hex>\n        (or "config -\n" without a config release)
///     config-path <path>\n         (only with a config release)
public struct Deployment: Hashable, Sendable {
    public let release: ReleaseID
    public let config: ReleaseID?
    /// Where the config tree is mounted, relative to the app tree; nil without a config release.
    public let configPath: String?

    public init(release: ReleaseID, config: ReleaseID?, configPath: String?) throws(DeployError) {
        self.release = release
        self.config = config
        if config != nil {
            let path = configPath ?? "config"
            if let problem = EntryPath.problem(with: path) { throw DeployError("--config-path '\(path)': \(problem)") }
            self.configPath = path
        } else {
            self.configPath = nil
        }
    }

    public var canonicalBytes: [UInt8] {
        var text = "fixity-deployment 1\nrelease \(release)\n"
        if let config, let configPath {
            text += "config \(config)\nconfig-path \(configPath)\n"
        } else {
            text += "config -\n"
        }
        return Array(text.utf8)
    }

    public var id: Digest { .of(canonicalBytes) }

    /// The tree this deployment materializes: the app manifest with the config manifest's
    /// entries mounted under `configPath` (folders on the way created 0755 when the app lacks
    /// them). A config entry that would land on an app entry is refused, naming the path.
    public func combinedManifest(app: Manifest, config configManifest: Manifest?) throws(DeployError) -> Manifest {
        guard let configManifest, let configPath else { return app }
        var entries = app.entries
        var mountPoint = ""
        for component in configPath.split(separator: "/") {
            mountPoint = mountPoint.isEmpty ? String(component) : mountPoint + "/" + component
            if let existing = app.entry(at: mountPoint) {
                guard existing.isDirectory else {
                    throw DeployError(
                        "config path '\(configPath)': '\(mountPoint)' is a \(existing.typeName) in the app release")
                }
            } else {
                entries.append(.directory(mountPoint, mode: 0o755))
            }
        }
        for entry in configManifest.entries {
            let path = configPath + "/" + entry.path
            if app.entry(at: path) != nil {
                throw DeployError("config release would overwrite '\(path)' of the app release")
            }
            entries.append(ManifestEntry(path: path, mode: entry.mode, kind: entry.kind))
        }
        entries.sort { EntryPath.precedes($0.path, $1.path) }
        do {
            return try Manifest(entries: entries)
        } catch {
            throw DeployError("app and config releases do not combine: \(error.description)")
        }
    }
}

/// A deploy or rollback refused by a decision of the core (not an I/O failure).
public struct DeployError: FixityError, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var category: ErrorCategory { .refused }
}
