import ArgumentParser
import FixityCore
import FixityHost
import FixityLedger
import FixityStore
import Foundation
import GRDB

/// The CLI's exit-code table (DESIGN.md), applied at the edge only:
/// 0 success, 1 a finding of a checking command, 2 refused or failed, 64 usage.
enum Exit {
    static let finding = ExitCode(1)
    static let failure = ExitCode(2)
}

/// Runs a command body, turning every domain error into one clear line on stderr and exit 2 —
/// with `--json`, also `{"error": {"category": …, "message": …}}` on stdout, so a script that
/// reads stdout always gets a document. Nothing escapes as exit 1, which the contract reserves
/// for findings: an error of a type not listed here is still exit 2, category `internal`.
func runReportingFailures(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch let error as any FixityError {
        fail(error.message, category: error.category)
    } catch let error as DatabaseError {
        fail("database: \(error.message ?? error.description)", category: .io)
    } catch {
        fail("\(error)", category: .internal)
    }
}

/// A refusal decided by the CLI itself (bad combination of arguments, unknown path in a release).
struct CLIError: FixityError {
    let message: String
    init(_ message: String) { self.message = message }
    var category: ErrorCategory { .refused }
}

/// Whether this run asked for JSON: read from the arguments themselves, since a failure can
/// happen before or outside the command's own options (the store, a root, a parse).
var jsonRequested: Bool {
    let arguments = CommandLine.arguments.dropFirst().prefix { $0 != "--" }
    return arguments.contains("--json")
}

func fail(_ message: String, category: ErrorCategory) -> Never {
    if jsonRequested {
        let document: [String: [String: String]] = ["error": ["category": category.rawValue, "message": message]]
        if let data = try? JSONStyle.compact.encoder().encode(document) {
            StandardStream.output.write(data + Data("\n".utf8))
        }
    }
    StandardStream.error.write(Data("fixity: error: \(TerminalText.escaped(message))\n".utf8))
    Foundation.exit(category.exitCode)
}

func parseRef(_ text: String) throws -> Ref {
    try Ref(parsing: text)
}
