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
    } catch let error as StoreError {
        fail(error.message, category: error.code.category)
    } catch let error as RefError {
        fail(error.description, category: "bad_input")
    } catch let error as ManifestError {
        fail(error.description, category: "bad_input")
    } catch let error as CLIError {
        fail(error.message, category: "refused")
    } catch let error as DeployError {
        fail(error.message, category: "refused")
    } catch let error as HookError {
        fail(error.message, category: "hook")
    } catch let error as TrustError {
        fail(error.message, category: "trust")
    } catch let error as LedgerError {
        fail(error.message, category: "ledger")
    } catch let error as ActivationTimeline.QueryError {
        fail(error.description, category: "bad_input")
    } catch let error as OCIError {
        fail(error.message, category: "registry")
    } catch let error as TarReader.FormatError {
        fail(error.message, category: "bad_input")
    } catch let error as DatabaseError {
        fail("database: \(error.message ?? error.description)", category: "io")
    } catch {
        fail("\(error)", category: "internal")
    }
}

extension StoreError.Code {
    /// The `category` of a `--json` error document.
    var category: String {
        switch self {
        case .badInput: "bad_input"
        case .integrity: "integrity"
        case .notFound: "not_found"
        case .ambiguous: "ambiguous"
        case .conflict: "conflict"
        case .locked: "locked"
        case .io: "io"
        }
    }
}

/// A refusal decided by the CLI itself (bad combination of arguments, unknown path in a release).
struct CLIError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Whether this run asked for JSON: read from the arguments themselves, since a failure can
/// happen before or outside the command's own options (the store, a root, a parse).
var jsonRequested: Bool {
    let arguments = CommandLine.arguments.dropFirst().prefix { $0 != "--" }
    return arguments.contains("--json")
}

func fail(_ message: String, category: String = "failed") -> Never {
    if jsonRequested {
        let document: [String: [String: String]] = ["error": ["category": category, "message": message]]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(document) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
    FileHandle.standardError.write(Data("fixity: error: \(TerminalText.escaped(message))\n".utf8))
    Foundation.exit(Exit.failure.rawValue)
}

func parseRef(_ text: String) throws -> Ref {
    try Ref(parsing: text)
}
