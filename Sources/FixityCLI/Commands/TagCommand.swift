import ArgumentParser
import FixityCore
import FixityStore

struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "Name a release APP@VERSION. Tags never move.")

    @Argument(help: "APP@VERSION")
    var name: String

    @Argument(help: "The release: sha256:<hex>, a unique hex prefix, or APP@VERSION.")
    var ref: String

    @OptionGroup var global: GlobalOptions

    struct Result: Encodable {
        let tag: String
        let release: ReleaseID
        let created: Bool
    }

    func run() throws {
        try runReportingFailures {
            let tagName = try TagName(parsing: name)
            let store = try global.openStore()
            let release = try store.resolve(try parseRef(ref))
            let created = try store.tag(tagName, release: release)
            if global.json {
                try Output.json(Result(tag: tagName.description, release: release, created: created))
            } else {
                Output.line("\(tagName) -> \(release)\(created ? "" : " (already set)")")
            }
        }
    }
}
