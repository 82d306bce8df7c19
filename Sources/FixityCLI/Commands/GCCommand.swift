import ArgumentParser
import FixityStore

struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Remove objects no sealed release references (leftovers of interrupted seals).")

    @Flag(name: .customLong("dry-run"), help: "List what would be removed; remove nothing.")
    var dryRun = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let report = try global.openStore().gc(dryRun: dryRun)
            if global.json {
                try Output.json(report)
                return
            }
            for digest in report.removedObjects { Output.line("\(dryRun ? "would remove" : "removed") \(digest)") }
            Output.note(
                "\(dryRun ? "would remove" : "removed") \(report.removedObjects.count) objects (\(Output.bytes(report.removedBytes))) "
                    + "and \(report.removedTemp) temp files (\(Output.bytes(report.removedTempBytes)), left by interrupted seals or imports); kept \(report.keptObjects) objects"
            )
        }
    }
}
