import ArgumentParser
import FixityCore
import FixityStore

struct ReleasesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "releases", abstract: "List sealed releases.")

    @Option(help: "Only this application's releases.")
    var app: String?

    @OptionGroup var global: GlobalOptions

    struct Result: Encodable { let releases: [ReleaseRecord] }

    func run() throws {
        try runReportingFailures {
            let filter = try app.map { try AppName(parsing: $0) }
            let records = try global.openStore().releases(app: filter)
            if global.json {
                try Output.json(Result(releases: records))
                return
            }
            var rows = [["APP", "RELEASE", "SEALED", "FILES", "SIZE", "TAGS"]]
            for record in records {
                rows.append([
                    record.app, record.release.short, String(record.sealedAt.prefix(19)) + "Z", String(record.files),
                    Output.bytes(record.bytes), record.tags.joined(separator: " "),
                ])
            }
            Output.line(Output.table(rows))
        }
    }
}
