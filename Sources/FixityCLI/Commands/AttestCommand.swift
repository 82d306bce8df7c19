import ArgumentParser
import FixityCore
import FixityHost
import FixityStore
import FixityTrust

struct AttestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attest",
        abstract: "Test the exact bytes of a release: export it to a throwaway folder, run CMD there, sign the result.",
        discussion: "Exit 0 when the command passed, 1 when it failed (the failure is recorded and signed too).")

    @Argument(help: "The release.") var ref: String
    @Option(name: .customLong("run"), help: "The test command, run by /bin/sh -c inside the release tree.") var command:
        String
    @Option(help: "The private key that signs the result.") var key: String
    @Option(help: "Seconds before the command is killed (counted as a failure).") var timeout: Double = 600
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingFailures {
            let signingKey = try KeyFiles.load(key)
            let store = try global.openStore()
            let release = try store.resolve(try parseRef(ref))
            let progress = ProgressLine(enabled: global.showsProgress, verb: "exporting")
            let outcome = try TestAttestation(store: store).attest(
                release, command: command, key: signingKey, timeout: timeout, progress: progress.reporter)
            progress.finish()
            if global.json {
                try Output.json(outcome)
            } else {
                Output.line(
                    "\(outcome.passed ? "PASSED" : "FAILED"): \(command) on \(release.short) (exit \(outcome.run.exitCode.map(String.init) ?? "-")\(outcome.run.timedOut ? ", timed out" : ""); signed by \(signingKey.id.short))"
                )
                // The test's own words, pass or fail: "PASSED" alone does not say what ran.
                if !outcome.run.outputTail.isEmpty { Output.note("--- output (tail) ---\n\(outcome.run.outputTail)") }
            }
            if !outcome.passed { throw Exit.finding }
        }
    }
}
