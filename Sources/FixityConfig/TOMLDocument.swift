import FixityCore
import CTOML
import TOMLKit

/// The one way Fixity parses TOML (a release's `fixity.toml`, a policy file, an image's
/// settings): the guard first (TOMLGuard: inputs that would abort the parser), then TOMLKit, every
/// failure a bad-input error naming the file and line.
package enum TOMLDocument {
    /// Parses `text` and hands the document to `body`; once `body` returns, the parsed tree is
    /// freed. TOMLKit (0.6.0) never frees a document it parsed — its tables only point into the
    /// C++ tree, and nothing deletes that tree — so every policy check leaked the whole policy
    /// (a long-running agent grew ~20 KB a deploy cycle). Only `read` parses: the tree cannot
    /// outlive `body`, and nothing of it is used after.
    package static func read<T>(_ text: String, describing name: String, _ body: (TOMLTable) throws -> T) throws -> T {
        let table = try parse(text, describing: name)
        defer { release(table) }
        return try withExtendedLifetime(table) { try body(table) }
    }

    /// Empties the C++ table behind `table` (every node it owns is deleted): what is left of a
    /// document is its empty root table, not its contents.
    private static func release(_ table: TOMLTable) {
        // TOMLKit keeps the pointer internal; its stored property is read by reflection.
        guard
            let pointer = Mirror(reflecting: table).children.first(where: { $0.label == "tablePointer" })?.value
                as? OpaquePointer
        else { return }
        tableClear(pointer)
    }

    private static func parse(_ text: String, describing name: String) throws(ConfigError) -> TOMLTable {
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
