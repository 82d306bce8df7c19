import ArgumentParser
import FixityCore
import FixityLedger
import FixityStore
import Foundation

/// Hidden: fills a scratch store's ledger with synthetic `bench` entries and times appends,
/// `log verify` and inclusion proofs in-process, for bench/ledger.sh. The entries are real ledger
/// entries (hashed, chained into the tree), so use it on a throwaway store only.
struct BenchLedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-ledger",
        abstract: "Append N synthetic entries and time ledger operations (benchmark helper).", shouldDisplay: false)

    @Option(help: "How many entries to append.") var count = 10_000
    @Option(help: "Entries per durable transaction (1: every append commits and fsyncs on its own, as a command does).")
    var batch = 1_000
    @Option(help: "Inclusion proofs to time.") var proofs = 1_000
    @Flag(help: "Only append; skip the verify and proof timings.") var appendOnly = false
    @Option(
        help:
            "Shape the entries like a fleet's (host reports from this many hosts, API requests, promotions of --release in --env) instead of `bench` entries: the dashboard's benchmark."
    )
    var fleetHosts = 0
    @Option(help: "The environment of fleet-shaped entries.") var env = "production"
    @Option(help: "The release fleet-shaped entries name.") var release = "sha256:" + String(repeating: "0", count: 64)
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let store = try global.openStore()
            guard count >= 0, batch >= 1 else { throw CLIError("--count must be >= 0 and --batch >= 1") }
            var appended = 0
            let start = DispatchTime.now().uptimeNanoseconds
            while appended < count {
                let n = min(batch, count - appended)
                try store.database.write { db in
                    for i in 0..<n {
                        let (action, subject, details) = entry(appended + i)
                        try store.record(db, action: action, subject: subject, details: details)
                    }
                }
                appended += n
            }
            let appendSeconds = seconds(since: start)
            if count > 0 {
                Output.line(
                    String(
                        format: "append  %d entries, %d per transaction: %.2f s, %.0f entries/s", count, batch,
                        appendSeconds, Double(count) / appendSeconds))
            }
            guard !appendOnly else { return }

            let verifyStart = DispatchTime.now().uptimeNanoseconds
            let verification = try store.database.read { try Ledger.verify($0) }
            Output.line(
                String(
                    format: "verify  %d entries: %.2f s (%@)", verification.size, seconds(since: verifyStart),
                    verification.ok ? "ok" : "NOT ok"))

            let size = verification.size
            guard size > 0 else { return }
            var samples = [Double]()
            try store.database.read { db in
                let prover = Ledger.prover(db)
                for _ in 0..<proofs {
                    let index = Int.random(in: 0..<size)
                    let t = DispatchTime.now().uptimeNanoseconds
                    let path = try prover.inclusionProof(index: index, size: size)
                    let root = try prover.root(size: size)
                    guard let entry = try Ledger.entry(db, seq: Int64(index)),
                        Merkle.verifyInclusion(leaf: entry.leafHash, index: index, size: size, proof: path, root: root)
                    else { throw CLIError("inclusion proof for \(index) does not verify") }
                    samples.append(seconds(since: t) * 1000)
                }
            }
            samples.sort()
            func percentile(_ p: Double) -> Double { samples[min(samples.count - 1, Int(Double(samples.count) * p))] }
            Output.line(
                String(
                    format: "prove   %d proofs at size %d (path + root + entry + check): p50 %.3f ms  p99 %.3f ms",
                    proofs, size, percentile(0.5), percentile(0.99)))
        }
    }

    /// Entry `n`: a `bench` entry, or with --fleet-hosts what a fleet's server records most —
    /// each host's status report in turn, an API request every 100th, a promotion every 10,000th.
    private func entry(_ n: Int) -> (LedgerAction, String, [String: String]) {
        guard fleetHosts > 0 else {
            return (.bench, "bench", ["n": String(n), "note": "synthetic benchmark entry"])
        }
        if n % 10_000 == 0 {
            return (.promote, release, ["env": env, "key": "kbench", "policy": release, "n": String(n)])
        }
        if n % 100 == 1 {
            return (
                .apiRequest, "kbench",
                ["method": "POST", "route": "/v1/environments/{env}/promote", "status": "201", "n": String(n)]
            )
        }
        let host = String(format: "host-%04d", n % fleetHosts)
        return (
            .hostReport, host,
            [
                "env": env, "event": "status", "release": release, "report_seq": String(n / fleetHosts),
                "deployment": "-", "attempted": release,
            ]
        )
    }

    private func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
