import ArgumentParser
import FixityCore
import FixityStore

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "What changed between two releases, by path.")

    @Argument(help: "The older release.")
    var from: String

    @Argument(help: "The newer release.")
    var to: String

    @OptionGroup var global: GlobalOptions

    struct Result: Encodable {
        let from: ReleaseID
        let to: ReleaseID
        let added: [String]
        let removed: [String]
        let modified: [String]
        let modeChanged: [String]
        let typeChanged: [String]

        enum CodingKeys: String, CodingKey {
            case from, to, added, removed, modified, modeChanged = "mode_changed", typeChanged = "type_changed"
        }
    }

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let old = try store.manifest(try store.resolve(try parseRef(from)))
            let new = try store.manifest(try store.resolve(try parseRef(to)))
            let diff = ManifestDiff(from: old, to: new)
            if global.json {
                try Output.json(
                    Result(
                        from: old.id, to: new.id, added: diff.added, removed: diff.removed, modified: diff.modified,
                        modeChanged: diff.modeChanged, typeChanged: diff.typeChanged))
                return
            }
            var rows = [[String]]()
            for kind in [ChangeKind.added, .removed, .modified, .modeChanged, .typeChanged] {
                for path in diff.paths(kind) {
                    let before = old.entry(at: path)
                    let after = new.entry(at: path)
                    // What changed, where the kind alone does not say: "0644 -> 0755", "file -> directory".
                    let shown: String
                    switch kind {
                    case .modeChanged: shown = "\(path) (\(before?.modeString ?? "?") -> \(after?.modeString ?? "?"))"
                    case .typeChanged: shown = "\(path) (\(before?.typeName ?? "?") -> \(after?.typeName ?? "?"))"
                    case .added, .removed, .modified: shown = path
                    }
                    rows.append([kind.rawValue, shown])
                }
            }
            if rows.isEmpty { Output.note("no differences") } else { Output.line(Output.table(rows)) }
            Output.note(
                "\(diff.added.count) added, \(diff.removed.count) removed, \(diff.modified.count) modified, "
                    + "\(diff.modeChanged.count) mode changed, \(diff.typeChanged.count) type changed")
        }
    }
}
