/// How a user names a release on the command line: `sha256:<hex>`, a unique hex prefix, or `APP@VERSION`.
public enum Ref: Hashable, Sendable, CustomStringConvertible {
    case id(ReleaseID)
    case prefix(String)
    case tag(TagName)

    /// Shortest prefix accepted: shorter ones match too much to be a deliberate choice.
    public static let minimumPrefixLength = 4

    public init(parsing text: String) throws(RefError) {
        if let digest = Digest(parsing: text) {
            self = .id(ReleaseID(digest))
        } else if text.contains("@") {
            self = .tag(try TagName(parsing: text))
        } else {
            var hex = Substring(text)
            if hex.hasPrefix(Digest.algorithmPrefix) { hex = hex.dropFirst(Digest.algorithmPrefix.count) }
            guard Hex.isLowercaseHex(hex), hex.count >= Self.minimumPrefixLength, hex.count <= 64 else {
                throw RefError(
                    ref: text,
                    "not a release reference: expected sha256:<hex>, a hex prefix of at least \(Self.minimumPrefixLength) characters, or APP@VERSION"
                )
            }
            self = .prefix(String(hex))
        }
    }

    public var description: String {
        switch self {
        case .id(let id): id.description
        case .prefix(let hex): hex
        case .tag(let tag): tag.description
        }
    }
}

/// `APP@VERSION`: a name for a release, immutable once set.
public struct TagName: Hashable, Sendable, CustomStringConvertible {
    public let app: AppName
    public let version: String

    public init(app: AppName, version: String) throws(RefError) {
        guard Self.isValidVersion(version) else {
            throw RefError(
                ref: "\(app)@\(version)",
                "a version is 1-128 characters of letters, digits, '.', '_', '-', '+', starting with a letter or digit")
        }
        self.app = app
        self.version = version
    }

    public init(parsing text: String) throws(RefError) {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw RefError(ref: text, "expected APP@VERSION") }
        try self.init(app: try AppName(parsing: String(parts[0])), version: String(parts[1]))
    }

    public var description: String { "\(app)@\(version)" }

    static func isValidVersion(_ text: String) -> Bool {
        guard (1...128).contains(text.utf8.count), let first = text.unicodeScalars.first, isAlnum(first) else {
            return false
        }
        return text.unicodeScalars.allSatisfy { isAlnum($0) || ".-_+".unicodeScalars.contains($0) }
    }
}

/// An application name: 1-64 characters, lowercase letters, digits, '.', '_', '-'.
public struct AppName: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let value: String

    public init(parsing text: String) throws(RefError) {
        guard (1...64).contains(text.utf8.count), let first = text.unicodeScalars.first,
            isLowerAlnum(first),
            text.unicodeScalars.allSatisfy({ isLowerAlnum($0) || ".-_".unicodeScalars.contains($0) })
        else {
            throw RefError(
                ref: text,
                "an app name is 1-64 characters of lowercase letters, digits, '.', '_', '-', starting with a letter or digit"
            )
        }
        value = text
    }

    public var description: String { value }
    public static func < (lhs: AppName, rhs: AppName) -> Bool { lhs.value < rhs.value }
}

public struct RefError: FixityError, Hashable, Sendable {
    public let ref: String
    public let problem: String

    public init(ref: String, _ problem: String) {
        self.ref = ref
        self.problem = problem
    }

    public var message: String { "'\(ref)': \(problem)" }
    public var category: ErrorCategory { .badInput }
}

private func isAlnum(_ scalar: Unicode.Scalar) -> Bool {
    isLowerAlnum(scalar) || ("A"..."Z").contains(scalar)
}

private func isLowerAlnum(_ scalar: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
}
