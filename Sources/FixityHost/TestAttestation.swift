import FixityCore
import FixityStore
import FixityTrust
import Foundation

/// `fixity attest`: runs a test command against the exact bytes of a release and records the
/// outcome as a signed test-result attestation (FixityTrust's `Attestations`).
package struct TestAttestation {
    package let store: Store

    package init(store: Store) { self.store = store }

    package struct Outcome: Sendable, Encodable {
        package let release: ReleaseID
        package let passed: Bool
        package let run: HookRun
        package let outputDigest: Digest
        package let envelope: DSSEEnvelope

        enum CodingKeys: String, CodingKey { case release, passed, run, outputDigest = "output_digest", envelope }
    }

    /// Exports the release into a throwaway folder (every byte verified), runs `command` there
    /// with `/bin/sh -c`, and records the outcome, pass or fail.
    package func attest(
        _ release: ReleaseID, command: String, key: SigningKey, timeout: Double, progress: WorkProgress?
    )
        throws -> Outcome
    {
        _ = try store.app(of: release)
        let scratch = try PrivateTempFolder(purpose: "attest")
        defer { scratch.remove() }
        let tree = scratch.child("tree")
        try store.export(release, to: tree, progress: progress)
        let started = store.clock.now()
        let run = try HookRun.run(
            command, in: tree, environment: ["FIXITY_RELEASE": release.description, "FIXITY_ENV": "attest"],
            timeout: timeout)
        let outputDigest = Digest.of(Array(run.outputTail.utf8))
        let envelope = try Attestations(store: store).recordTestResult(
            Attestations.TestRun(
                command: command, passed: run.passed, exitCode: run.exitCode, timedOut: run.timedOut,
                seconds: run.seconds, started: started, outputDigest: outputDigest),
            of: release, key: key)
        return Outcome(release: release, passed: run.passed, run: run, outputDigest: outputDigest, envelope: envelope)
    }
}
