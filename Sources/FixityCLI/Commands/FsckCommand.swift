import ArgumentParser
import FixityStore

struct FsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck", abstract: "Re-hash every object and check every release; exit 1 listing what is wrong.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let progress = ProgressLine(enabled: global.showsProgress, verb: "checking")
            defer { progress.finish() }
            let report = try store.fsck(progress: progress.reporter)
            progress.finish()
            if global.json {
                try Output.json(report)
            } else {
                for digest in report.corrupt {
                    Output.line(
                        "corrupt  \(digest)  \(store.path)/objects/sha256/\(digest.dropFirst(7).prefix(2))/\(digest.dropFirst(9))"
                    )
                }
                for digest in report.missing { Output.line("missing  \(digest)") }
                for id in report.invalidReleases { Output.line("invalid release  \(id)") }
                for stray in report.strays { Output.line("stray  \(stray)") }
                for source in report.linkSourcesRemoved {
                    Output.line(
                        "link source changed through a live link, removed (the next hardlink deploy remakes it)  links/\(source)"
                    )
                }
                Output.note(
                    "\(report.objects) objects (\(Output.bytes(report.bytes))), \(report.releases) releases: "
                        + (report.clean
                            ? "no problems"
                            : "\(report.corrupt.count) corrupt, \(report.missing.count) missing, \(report.invalidReleases.count) invalid releases, \(report.strays.count) strays")
                )
            }
            if !report.clean { throw Exit.finding }
        }
    }
}
