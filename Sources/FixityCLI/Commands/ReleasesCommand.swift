import ArgumentParser
import FixityCore
import FixityStore
import FixityServer

struct ReleasesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "releases", abstract: "List sealed releases.")

    @Option(help: "Only this application's releases.")
    var app: String?

    @Option(help: "List a server's releases instead of the store's (a release:read key in $FIXITY_API_KEY).")
    var server: String?

    @OptionGroup var global: GlobalOptions

    struct Result: Codable { let releases: [ReleaseRecord] }

    func run() throws {
        try runReportingFailures {
            let filter = try app.map { try AppName(parsing: $0) }
            let records: [ReleaseRecord]
            if let server {
                let path = "/v1/releases" + (filter.map { "?app=\($0)" } ?? "")
                records = try ServerConnectionOptions.to(server).session { client -> Result in
                    try await client.document(.GET, path)
                }.releases
            } else {
                records = try global.openStore().releases(app: filter)
            }
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
