import ArgumentParser
import FixityCore
import FixityStore
import Foundation

struct CatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat", abstract: "Write one file of a release to stdout, verified against its digest.")

    @Argument(help: "The release.")
    var ref: String

    @Argument(help: "The file's path inside the release.")
    var path: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let manifest = try store.manifest(try store.resolve(try parseRef(ref)))
            let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
            guard let entry = manifest.entry(at: relative) else {
                throw CLIError("no path '\(path)' in release \(manifest.id.short)")
            }
            switch entry.kind {
            case .file(_, let digest):
                // Verify before writing a single byte: a script piping this never sees bad data.
                try store.verifyObject(digest)
                try store.copyObject(digest, toFileDescriptor: 1)
            case .symlink(let target):
                throw CLIError("'\(path)' in release \(manifest.id.short) is a symlink to '\(target)', not a file")
            case .directory:
                throw CLIError("'\(path)' in release \(manifest.id.short) is a directory, not a file")
            }
        }
    }
}
