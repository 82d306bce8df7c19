/// The paths a release allows to change, from `[drift] ignore = [...]` in its own fixity.toml, so
/// the exception is sealed and audited like the rest of the release.
///
/// Patterns are relative paths matched component by component: `*` matches any run of
/// characters within one component, `?` one character, `**` any number of whole components.
/// A path is ignored when it or any folder above it matches, so `var/cache` ignores everything
/// below `var/cache`, and `**/*.sock` every socket file anywhere.
public struct IgnoreRules: Sendable, Equatable {
    public let patterns: [String]
    private let compiled: [[Substring]]

    public init(_ patterns: [String]) throws(DeployError) {
        for pattern in patterns {
            if pattern.isEmpty || pattern.hasPrefix("/")
                || pattern.split(separator: "/", omittingEmptySubsequences: false).contains(where: {
                    $0.isEmpty || $0 == ".."
                })
            {
                throw DeployError(
                    "[drift] ignore pattern '\(pattern)' must be a relative path without empty or '..' components")
            }
        }
        self.patterns = patterns
        compiled = patterns.map { $0.split(separator: "/") }
    }

    public static let none = try! IgnoreRules([])

    public var isEmpty: Bool { patterns.isEmpty }

    public func ignores(_ path: String) -> Bool {
        guard !compiled.isEmpty else { return false }
        let components = path.split(separator: "/")
        for length in 1...components.count {
            let prefix = components[0..<length]
            if compiled.contains(where: { Self.match($0[...], prefix) }) { return true }
        }
        return false
    }

    private static func match(_ pattern: ArraySlice<Substring>, _ path: ArraySlice<Substring>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            return match(pattern.dropFirst(), path) || (!path.isEmpty && match(pattern, path.dropFirst()))
        }
        guard let component = path.first else { return false }
        return wildcard(Array(first.unicodeScalars)[...], Array(component.unicodeScalars)[...])
            && match(pattern.dropFirst(), path.dropFirst())
    }

    /// `*` and `?` within one component.
    private static func wildcard(_ pattern: ArraySlice<Unicode.Scalar>, _ text: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let head = pattern.first else { return text.isEmpty }
        switch head {
        case "*":
            var rest = text
            while true {
                if wildcard(pattern.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        case "?":
            return !text.isEmpty && wildcard(pattern.dropFirst(), text.dropFirst())
        default:
            return text.first == head && wildcard(pattern.dropFirst(), text.dropFirst())
        }
    }
}
