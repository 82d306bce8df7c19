import ArgumentParser
import FixityHost
import FixityStore
import Foundation

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch a root for drift (inotify): one JSON line per change of drift state; --repair heals it.")

    @Option(help: "The deploy root.")
    var root: String

    @Flag(help: "Repair drift as soon as it is seen (evidence is kept).")
    var repair = false

    @Option(help: "Seconds between full verifications, to catch what inotify cannot see.")
    var interval: Double = 300

    @Option(name: .customLong("poll-interval"), help: "Seconds between fast verifications when inotify is unavailable.")
    var pollInterval: Double = 2

    @Option(
        name: .customLong("metrics-file"),
        help: "Write Prometheus text-format metrics here after each check (node_exporter textfile collector).")
    var metricsFile: String?

    @Flag(
        name: .customLong("allow-shared-root"),
        help: "Use a root (or its .fixity, deployments) owned by another user or writable by group/others.")
    var allowSharedRoot = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if interval <= 0 || pollInterval <= 0 {
            throw ValidationError("--interval and --poll-interval must be positive")
        }
    }

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            var options = DriftWatcher.Options()
            options.repair = repair
            options.interval = interval
            options.pollInterval = pollInterval
            let deployRoot = try DeployRoot(path: root, create: false, allowShared: allowSharedRoot)
            let output = WatchOutput(root: deployRoot, metricsFile: metricsFile)
            let watcher = DriftWatcher(store: store, root: deployRoot, options: options, emit: output.show)
            try watcher.run()
        }
    }
}
