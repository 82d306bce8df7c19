import ArgumentParser
import FixityCore
import FixityHost
import FixityStore
import Foundation

/// Hidden: times the atomic switch itself (symlink, rename over `current`, fsync of the root)
/// between the two newest materialized deployments of a root, for bench/deploy-vs-peers.sh.
/// Not a state change a user would make: it records nothing in the history.
struct BenchSwitchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-switch", abstract: "Time N atomic switches of ROOT/current (benchmark helper).",
        shouldDisplay: false)

    @Option(help: "A root with at least two materialized deployments.")
    var root: String

    @Option(help: "How many switches.")
    var count = 1000

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let deployRoot = try DeployRoot(path: root, create: false)
            let lock = try deployRoot.lock(timeout: 10, purpose: "bench-switch")
            defer { withExtendedLifetime(lock) {} }
            guard let original = try deployRoot.activeDeployment() else {
                throw CLIError("\(root) has no active deployment")
            }
            let state = RootState(store: try global.openStore(), root: deployRoot)
            guard
                let other = try state.all().last(where: {
                    $0.deployment != original && deployRoot.isMaterialized($0.deployment)
                })?.deployment
            else {
                throw CLIError("\(root) needs a second materialized deployment")
            }
            var samples = [Double]()
            samples.reserveCapacity(count)
            for index in 0..<count {
                let start = DispatchTime.now().uptimeNanoseconds
                try deployRoot.activate(index % 2 == 0 ? other : original)
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            if count % 2 == 1 { try deployRoot.activate(original) }
            samples.sort()
            func percentile(_ p: Double) -> Double { samples[min(samples.count - 1, Int(Double(samples.count) * p))] }
            Output.line(
                String(
                    format: "switches %d  p50 %.3f ms  p99 %.3f ms  max %.3f ms", count, percentile(0.5),
                    percentile(0.99), samples.last ?? 0))
        }
    }
}
