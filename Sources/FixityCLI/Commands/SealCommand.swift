import ArgumentParser
import FixityApp
import FixityCore
import FixityStore
import Foundation

struct SealCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal", abstract: "Seal a folder into a content-addressed release; prints its id.")

    @Argument(help: "The folder to seal (a build output).")
    var directory: String

    @Option(help: "The application this release belongs to.")
    var app: String

    @Option(help: "Also tag the release APP@VERSION.")
    var tag: String?

    @Option(help: "Sign the release (its SLSA provenance) with this private key; repeat for several.")
    var sign: [String] = []

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let appName = try AppName(parsing: app)
            // Keys first: a bad key file refuses the seal before anything is written.
            let keys = try sign.map(KeyFiles.load)
            let store = try global.openStore()
            let progress = ProgressLine(enabled: global.showsProgress, verb: "sealing")
            defer { progress.finish() }
            let report = try SealRelease(directory: directory, app: appName, tag: tag, signingKeys: keys)
                .run(in: store, progress: progress.reporter).report
            progress.finish()
            if global.json {
                try Output.json(report)
            } else {
                Output.line(report.release.description)
                Output.note(
                    "sealed \(report.app): \(report.files) files, \(Output.bytes(report.bytes)); "
                        + "\(report.newBlobs) new blobs (\(Output.bytes(report.newBytes))), \(report.hashedFiles) files hashed"
                        + (report.tag.map { ", tagged \($0)" } ?? ""))
            }
        }
    }
}
