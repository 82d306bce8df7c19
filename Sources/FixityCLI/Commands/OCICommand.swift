import ArgumentParser
import FixityCore
import FixityHost
import FixityStore
import Foundation

/// `fixity oci export|import`: releases as OCI images and back.
struct OCICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oci", abstract: "Releases as reproducible OCI images (image layouts), and images as releases.",
        subcommands: [Export.self, Import.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a release as an OCI image layout: the release tree as the top layer, reproducible byte for byte.")
        @Argument(help: "The release.") var ref: String
        @Option(help: "The layout folder to create.") var out: String
        @Option(help: "A base image pinned by digest: LAYOUT_DIR@sha256:<manifest digest>.") var base: String?
        @Option(parsing: .singleValue, help: "The entrypoint, one argument per use.") var entrypoint: [String] = []
        @Option(parsing: .singleValue, help: "The default command, one argument per use.") var cmd: [String] = []
        @Option(help: "An environment variable K=V (repeatable).") var env: [String] = []
        @Option(help: "The working directory.") var workdir: String?
        @Option(help: "The user to run as.") var user: String?
        @Option(help: "OS/ARCH[/VARIANT] (default: the base's, else linux/amd64).") var platform: String?
        @Option(help: "The ref name in the layout's index.json (for umoci/skopeo DIR:NAME).") var refName: String?
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let store = try global.openStore()
                let release = try store.resolve(try parseRef(ref))
                var flags = ImageSettings()
                if !entrypoint.isEmpty { flags.entrypoint = entrypoint }
                if !cmd.isEmpty { flags.cmd = cmd }
                for pair in env where !pair.contains("=") || pair.hasPrefix("=") { throw CLIError("--env '\(pair)' is not K=V") }
                flags.env = env
                flags.workdir = workdir
                flags.user = user
                do { flags.platform = try platform.map { try OCI.Platform(parsing: $0) } } catch let error as OCIError { throw CLIError(error.message) }
                let epoch = try Self.sourceDateEpoch()
                let report = try ImageExporter(store: store).export(release, to: out, flags: flags, base: base, epoch: epoch, refName: refName)
                if global.json { try Output.json(report) } else {
                    Output.line("\(report.image)")
                    Output.note("wrote \(out): image \(report.image.short), layer \(report.layer.short) (\(report.layerBytes) bytes gzip), release \(release.short)")
                }
            }
        }

        /// SOURCE_DATE_EPOCH (reproducible-builds.org): a non-negative integer, or 0 when unset.
        static func sourceDateEpoch() throws -> Int64 {
            guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty else { return 0 }
            guard let value = Int64(text), value >= 0 else { throw CLIError("SOURCE_DATE_EPOCH='\(text)' is not a non-negative integer") }
            return value
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal an image from an OCI layout (LAYOUT_DIR or LAYOUT_DIR@sha256:…) as a release: layers flattened, every entry validated.")
        @Argument(help: "The image.") var image: String
        @Option(help: "The application the release belongs to.") var app: String
        @Option(help: "Also tag the release APP@VERSION.") var tag: String?
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try runReportingFailures {
                let store = try global.openStore()
                let report = try ImageImporter(store: store).importImage(image, app: try AppName(parsing: app), tag: tag)
                if global.json { try Output.json(report) } else {
                    Output.line("\(report.release)")
                    Output.note("imported image \(report.image.short): \(report.layers) layers, \(report.files) files as release \(report.release.short)\(report.existed ? " (already in the store)" : "")")
                }
            }
        }
    }
}
