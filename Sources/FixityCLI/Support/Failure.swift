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

/// Runs a command body, turning every domain error into one clear line on stderr and exit 2.
func runReportingFailures(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch let error as StoreError {
        fail(error.message)
    } catch let error as RefError {
        fail(error.description)
    } catch let error as ManifestError {
        fail(error.description)
    } catch let error as CLIError {
        fail(error.message)
    } catch let error as DeployError {
        fail(error.message)
    } catch let error as HookError {
        fail(error.message)
    } catch let error as TrustError {
        fail(error.message)
    } catch let error as LedgerError {
        fail(error.message)
    } catch let error as ActivationTimeline.QueryError {
        fail(error.description)
    } catch let error as OCIError {
        fail(error.message)
    } catch let error as TarReader.FormatError {
        fail(error.message)
    } catch let error as DatabaseError {
        fail("database: \(error.message ?? error.description)")
    }
}

/// A refusal decided by the CLI itself (bad combination of arguments, unknown path in a release).
struct CLIError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fixity: error: \(message)\n".utf8))
    Foundation.exit(Exit.failure.rawValue)
}

func parseRef(_ text: String) throws -> Ref {
    try Ref(parsing: text)
}
