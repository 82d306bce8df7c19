import FixityCore
import Foundation

/// `REGISTRY/REPO[:TAG|@sha256:DIGEST]`, validated at the edge: the registry is a host (and
/// port), the repository lowercase path components of the distribution spec's grammar.
package struct RegistryReference: Sendable, CustomStringConvertible {
    package let registry: String
    package let repository: String
    package let tag: String?
    package let digest: Digest?

    package init(parsing text: String) throws(OCIError) {
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.lastIndex(of: "@") {
            guard let parsed = Digest(parsing: String(rest[rest.index(after: at)...])) else {
                throw OCIError("'\(text)': the part after @ is not sha256:<64 hex>")
            }
            digest = parsed
            rest = rest[..<at]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw OCIError("'\(text)' is not REGISTRY/REPO[:TAG]: name the registry (e.g. localhost:5000/app)")
        }
        let registry = String(rest[..<slash])
        var path = rest[rest.index(after: slash)...]
        var tag: String?
        if let colon = path.lastIndex(of: ":"), !path[colon...].contains("/") {
            tag = String(path[path.index(after: colon)...])
            path = path[..<colon]
        }
        guard
            registry.range(
                of: #"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:]+\](:[0-9]{1,5})?$"#, options: .regularExpression)
                != nil
        else {
            throw OCIError("'\(registry)' is not a registry host[:port]")
        }
        let component = #"[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*"#
        guard String(path).range(of: "^\(component)(/\(component))*$", options: .regularExpression) != nil,
            path.count <= 255
        else {
            throw OCIError("'\(path)' is not a valid repository name (lowercase letters, digits, . _ - and /)")
        }
        if let tag, tag.range(of: #"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"#, options: .regularExpression) == nil {
            throw OCIError("':\(tag)' is not a valid tag")
        }
        self.registry = registry
        repository = String(path)
        self.tag = tag
        self.digest = digest
    }

    /// The host without its port, for the loopback check.
    package var host: String {
        if registry.hasPrefix("["), let close = registry.firstIndex(of: "]") {
            return String(registry[registry.index(after: registry.startIndex)..<close])
        }
        return String(registry.split(separator: ":").first ?? "")
    }

    package var isLoopback: Bool { ["localhost", "127.0.0.1", "::1"].contains(host) || host.hasPrefix("127.") }

    package var description: String {
        "\(registry)/\(repository)" + (tag.map { ":\($0)" } ?? "") + (digest.map { "@\($0)" } ?? "")
    }
}
