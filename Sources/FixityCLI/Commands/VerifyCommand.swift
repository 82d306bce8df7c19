import ArgumentParser
import FixityApp
import FixityCore
import FixityHost
import FixityStore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare the live tree of a root with its deployment's manifest; exit 1 when it drifted.",
        discussion:
            "Fast mode re-hashes only files whose stat data changed since materialization; --full re-hashes everything."
    )

    @Option(help: "The deploy root.")
    var root: String

    @Flag(help: "Re-hash every file instead of trusting the stat snapshot.")
    var full = false

    @Flag(
        name: .customLong("allow-shared-root"),
        help: "Use a root (or its .fixity, deployments) owned by another user or writable by group/others.")
    var allowSharedRoot = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            let deployRoot = try DeployRoot(path: root, create: false, allowShared: allowSharedRoot)
            let progress = ProgressLine(enabled: global.showsProgress, verb: "verifying")
            defer { progress.finish() }
            let outcome = try VerifyRoot(deployRoot, full: full).run(in: store, progress: progress.reporter)
            progress.finish()
            if global.json {
                try Output.json(outcome)
            } else {
                DriftTable.print(outcome)
            }
            if !outcome.clean { throw Exit.finding }
            if !outcome.report.unreadable.isEmpty { throw Exit.failure }
        }
    }
}

/// The short human table of a verify: one row per drifted path.
enum DriftTable {
    static func print(_ outcome: VerifyOutcome) {
        for note in outcome.notes { Output.note("note: \(note)") }
        let r = outcome.report
        // One row per path (a file edited and made executable is one path, two changes), with
        // what changed: "0644 => 0755", "file => directory", the new link target.
        var labels = [String: [String]]()
        for (label, paths) in ChangeKind.allCases.map({ ($0.rawValue, r.paths($0)) }) + [("unreadable", r.unreadable)] {
            for path in paths { labels[path, default: []].append(label) }
        }
        let rows = labels.keys.sorted { EntryPath.precedes($0, $1) }.map { path -> [String] in
            let state = r.live[path]
            var detail = state?.change ?? ""
            if state?.was == nil, let state, labels[path] == ["added"] {
                detail =
                    state.type == "symlink" ? "symlink -> \(state.target ?? "?")" : "\(state.type) \(state.mode ?? "")"
            }
            return [labels[path]!.joined(separator: ","), path, detail]
        }
        if !rows.isEmpty { Output.line(Output.table(rows)) }
        let summary =
            "\(outcome.entriesChecked) entries checked, \(outcome.filesHashed) files hashed (\(outcome.full ? "full" : "fast"))"
            + (outcome.ignored > 0 ? ", \(outcome.ignored) ignored by [drift] ignore" : "")
        Output.note(
            outcome.clean
                ? "clean: \(outcome.deployment.short) on \(outcome.root); \(summary)"
                : "DRIFT on \(outcome.root) (deployment \(outcome.deployment.short)): \(rows.count) paths; \(summary)")
    }
}
