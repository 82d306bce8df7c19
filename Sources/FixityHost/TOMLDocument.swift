import FixityCore
import FixityStore
import TOMLKit

/// The one way Fixity parses TOML (a release's `fixity.toml`, a policy file): the guard first
/// (TOMLGuard: inputs that would abort the parser), then TOMLKit, every failure a bad-input error
/// naming the file and line.
enum TOMLDocument {
    static func parse(_ text: String, describing name: String) throws -> TOMLTable {
        if let problem = TOMLGuard.problem(in: text) {
            throw StoreError(.badInput, "\(name) does not parse: line \(problem.line): \(problem.message)")
        }
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw StoreError(.badInput, "\(name) does not parse: line \(error.source.begin.line): \(error.description)")
        } catch {
            throw StoreError(.badInput, "\(name) does not parse: \(error)")
        }
    }
}
