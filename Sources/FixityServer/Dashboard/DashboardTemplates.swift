import Mustache

/// The dashboard's templates, stylesheet and script, compiled into the binary
/// (`Dashboard/Assets`, embedded by SwiftPM) and parsed once at start.
struct DashboardTemplates: Sendable {
    let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        let templates: [(String, [UInt8])] = [
            ("layout", PackageResources.layout_mustache), ("moment", PackageResources.moment_mustache),
            ("digest", PackageResources.digest_mustache), ("login", PackageResources.login_mustache),
            ("error", PackageResources.error_mustache), ("environments", PackageResources.environments_mustache),
            ("environment", PackageResources.environment_mustache), ("host", PackageResources.host_mustache),
            ("releases", PackageResources.releases_mustache), ("release", PackageResources.release_mustache),
            ("ledger", PackageResources.ledger_mustache), ("entry", PackageResources.entry_mustache),
            ("state", PackageResources.state_mustache), ("keys", PackageResources.keys_mustache),
            ("access", PackageResources.access_mustache),
        ]
        for (name, bytes) in templates {
            try library.register(String(decoding: bytes, as: UTF8.self), named: name)
        }
        self.library = library
    }

    /// The page `name` for `context`; a template that does not exist is a programming error
    /// caught by the tests (every page is rendered there).
    func render(_ context: Any, _ name: String) -> String {
        library.render(context, withTemplate: name) ?? "template \(name) is missing"
    }

    static let stylesheet = PackageResources.style_css
    static let script = PackageResources.live_js
}
