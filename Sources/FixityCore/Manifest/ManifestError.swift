/// A manifest that breaks the format: names the line (1-based, header is line 1) or path and the rule broken.
public struct ManifestError: FixityError, Hashable, Sendable {
    public let line: Int?
    public let path: String?
    public let problem: String

    public init(line: Int? = nil, path: String? = nil, _ problem: String) {
        self.line = line
        self.path = path
        self.problem = problem
    }

    public var category: ErrorCategory { .badInput }

    public var message: String {
        var where_ = [String]()
        if let line { where_.append("line \(line)") }
        if let path { where_.append("'\(path)'") }
        return where_.isEmpty
            ? "invalid manifest: \(problem)" : "invalid manifest at \(where_.joined(separator: ", ")): \(problem)"
    }
}
