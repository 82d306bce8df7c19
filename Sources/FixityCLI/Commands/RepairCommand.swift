import ArgumentParser
import FixityApp
import FixityCore
import FixityHost
import FixityStore

struct RepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Restore a drifted root from the store, keeping what was found as evidence (fixity evidence).")

    @Option(help: "The deploy root.")
    var root: String

    @Flag(help: "Find drift by re-hashing every file instead of trusting the stat snapshot.")
    var full = false

    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for a deploy or rollback on this root.")
    var lockTimeout: Double = 60

    @Flag(
        name: .customLong("allow-shared-root"),
        help: "Use a root (or its .fixity, deployments) owned by another user or writable by group/others.")
    var allowSharedRoot = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let outcome = try RepairRoot(
                try DeployRoot(path: root, create: false, allowShared: allowSharedRoot), full: full,
                lockTimeout: lockTimeout
            ).run(in: store)
            if global.json {
                try Output.json(outcome)
            } else if let evidence = outcome.evidence {
                Output.line(
                    "repaired \(outcome.root): \(outcome.restored.count) restored, \(outcome.removed.count) removed, \(outcome.modesReset.count) modes reset"
                )
                Output.line("evidence kept as \(evidence) (fixity evidence \(evidence))")
                for failure in outcome.failed { Output.note("not repaired: \(failure)") }
            } else {
                Output.line("\(outcome.root) is clean; nothing to repair")
            }
            // Anything left unrepaired (unreadable, swapped under us) is a failure to say so.
            if !outcome.clean || !outcome.failed.isEmpty { throw Exit.failure }
        }
    }
}

struct EvidenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence", abstract: "List what repairs kept, or show one record with its files.")

    @Argument(help: "An evidence id to show in full.")
    var id: String?

    @OptionGroup var global: GlobalOptions

    struct Listing: Encodable { let evidence: [EvidenceRecord] }

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let records = try Evidence.list(store: store)
            if let id {
                guard let record = records.first(where: { $0.id == id }) else {
                    throw CLIError("no evidence \(id) in \(store.path)/evidence")
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

struct AdoptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adopt",
        abstract:
            "Seal the live (drifted) tree of a root as a new release, so a hot-fix goes through the pipeline. The root is not switched."
    )

    @Option(help: "The deploy root.")
    var root: String

    @Option(help: "The application the new release belongs to.")
    var app: String

    @Option(help: "Also tag the new release APP@VERSION.")
    var tag: String?

    @Flag(
        name: .customLong("allow-shared-root"),
        help: "Use a root (or its .fixity, deployments) owned by another user or writable by group/others.")
    var allowSharedRoot = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let deployRoot = try DeployRoot(path: root, create: false, allowShared: allowSharedRoot)
            let report = try Adoption(store: store, root: deployRoot).adopt(app: try AppName(parsing: app), tag: tag)
            if global.json { return try Output.json(report) }
            Output.line(report.release.description)
            Output.note(
                "adopted the live tree of \(root) as \(report.app)\(report.tag.map { " (\($0))" } ?? ""); deploy it like any release"
            )
        }
    }
}
