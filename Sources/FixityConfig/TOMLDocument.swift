import FixityCore
import TOMLKit

/// The one way Fixity parses TOML (a release's `fixity.toml`, a policy file, an image's
/// settings): the guard first (TOMLGuard: inputs that would abort the parser), then TOMLKit, every
/// failure a bad-input error naming the file and line.
package enum TOMLDocument {
    package static func parse(_ text: String, describing name: String) throws(ConfigError) -> TOMLTable {
        if let problem = TOMLGuard.problem(in: text) {
            throw ConfigError("\(name) does not parse: line \(problem.line): \(problem.message)")
        }
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("\(name) does not parse: line \(error.source.begin.line): \(error.description)")
        } catch {
            throw ConfigError("\(name) does not parse: \(error)")
        }
    }
}

/// A configuration document that does not parse: always the caller's input.
public struct ConfigError: FixityError, Sendable {
    public let message: String
    public var category: ErrorCategory { .badInput }
    public var description: String { message }

    package init(_ message: String) { self.message = message }
}
