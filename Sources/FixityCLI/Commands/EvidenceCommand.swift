import ArgumentParser
import FixityCore
import FixityHost
import FixityStore
import Foundation

/// `fixity evidence [ID] [--root ROOT]`: what repairs kept (docs/design.md, "Repair").
struct EvidenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence", abstract: "List what repairs kept, or show one record with its files.")

    @Argument(help: "An evidence id to show in full.")
    var id: String?

    @Option(help: "Only what repairs of this deploy root kept.")
    var root: String?

    @OptionGroup var global: GlobalOptions

    struct Listing: Encodable { let evidence: [EvidenceRecord] }

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let rootKey = root.map { DeployRoot.key(forPath: $0) }
            let records = try Evidence.list(store: store).filter { rootKey == nil || $0.root == rootKey }
            if let id {
                guard let record = records.first(where: { $0.id == id }) else {
                    throw CLIError(
                        "no evidence \(id) in \(store.path)/evidence" + (root.map { " for root \($0)" } ?? ""))
                }
                if global.json { return try Output.json(record) }
                Output.line(
                    "evidence \(record.id)  \(record.time)  by \(record.actor)\nroot \(record.root)  deployment \(record.deployment.short)  release \(record.release.short)"
                )
                Output.line("files under \(store.path)/evidence/\(record.id)/files:")
                Output.line(
                    Output.table(
                        record.files.map {
                            [
                                $0.kind, $0.mode, "\($0.size)",
                                $0.digest?.short ?? ($0.target.map { "-> \($0)" } ?? "-"), $0.path,
                            ]
                        }))
                for file in record.files { if let note = file.note { Output.line("  \(file.path): \(note)") } }
                // What left no bytes to keep: paths removed from the tree and modes changed.
                if !record.drift.removed.isEmpty {
                    Output.line("removed (restored by the repair): " + record.drift.removed.joined(separator: ", "))
                }
                if !record.drift.modeChanged.isEmpty {
                    Output.line(
                        "mode changed (reset by the repair): " + record.drift.modeChanged.joined(separator: ", "))
                }
                return
            }
            if global.json { return try Output.json(Listing(evidence: records)) }
            var rows = [["ID", "TIME", "ROOT", "DEPLOYMENT", "FILES"]]
            for record in records {
                rows.append([
                    record.id, String(record.time.prefix(19)) + "Z", record.root, record.deployment.short,
                    String(record.files.count),
                ])
            }
            Output.line(Output.table(rows))
        }
    }
}
