import Mustache

/// The dashboard's templates, stylesheet and script, compiled into the binary
/// (`Dashboard/Assets`, embedded by SwiftPM) and parsed once at start.
struct DashboardTemplates: Sendable {
    let library: MustacheLibrary

    init() throws {
        // Every template starts with `{{% CONTENT_TYPE: FIXITY_HTML }}`: this escaping.
        MustacheContentTypes.register(DashboardHTML(), named: "FIXITY_HTML")
        var library = MustacheLibrary()
        let templates: [(String, [UInt8])] = [
            ("layout", PackageResources.layout_mustache), ("moment", PackageResources.moment_mustache),
            ("digest", PackageResources.digest_mustache), ("release-link", PackageResources.release_link_mustache),
            ("login", PackageResources.login_mustache),
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

/// HTML escaping for every `{{value}}` — `&`, `<`, `>`, `"` and `'`, as the engine's own HTML
/// type escapes — over UTF-8 bytes, and no copy at all for the many values with nothing to
/// escape (digests, times, names): the engine's character-by-character version was a fifth of
/// the time of a 500-host page.
struct DashboardHTML: MustacheContentType {
    func escapeText(_ text: String) -> String {
        let bytes = text.utf8
        guard bytes.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else {
            return text
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 32)
        for byte in bytes {
            switch byte {
            case 0x26: out += "&amp;".utf8
            case 0x3C: out += "&lt;".utf8
            case 0x3E: out += "&gt;".utf8
            case 0x22: out += "&quot;".utf8
            case 0x27: out += "&#39;".utf8
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
