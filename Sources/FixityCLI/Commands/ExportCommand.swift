import ArgumentParser
import FixityCore
import FixityStore

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a release's tree into a new or empty folder, verifying every byte.")

    @Argument(help: "The release.")
    var ref: String

    @Argument(help: "The destination folder: must not exist, or be empty.")
    var directory: String

    @OptionGroup var global: GlobalOptions

    struct Result: Encodable {
        let release: ReleaseID
        let directory: String
        let files: Int
        let bytes: UInt64
    }

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let id = try store.resolve(try parseRef(ref))
            let progress = ProgressLine(enabled: global.showsProgress, verb: "exporting")
            defer { progress.finish() }
            try store.export(id, to: directory, progress: progress.reporter)
            progress.finish()
            let manifest = try store.manifest(id)
            if global.json {
                try Output.json(
                    Result(release: id, directory: directory, files: manifest.fileCount, bytes: manifest.fileBytes))
            } else {
                Output.note(
                    "exported \(id.short) to \(directory): \(manifest.fileCount) files, \(Output.bytes(manifest.fileBytes)), every byte verified"
                )
            }
        }
    }
}
