import FixityCore
import FixityLedger
import FixityStore
import Foundation

/// Signed statements about releases: approvals (`fixity sign`), and the results of tests run
/// against the exact bytes of a release (`fixity attest`; the run itself is the host's
/// `TestAttestation`).
package struct Attestations {
    package let store: Store

    package init(store: Store) { self.store = store }

    /// Signs "KEY approves RELEASE" and stores the envelope.
    @discardableResult
    package func approve(_ release: ReleaseID, key: SigningKey, role: String?) throws -> DSSEEnvelope {
        let app = try store.app(of: release)
        var predicate: [String: JSONValue] = [
            "app": .string(app), "signed_at": .string(store.clock.timestamp()), "signer": .string(Identity.user),
        ]
        if let role { predicate["role"] = .string(role) }
        let statement = InTotoStatement(
            app: app, release: release, predicateType: InTotoStatement.PredicateType.release,
            predicate: .object(predicate))
        let envelope = DSSEEnvelope.sign(payload: statement.jsonBytes(), key: key)
        try store.addEnvelope(envelope, about: release, source: "signature by \(key.id.short)")
        return envelope
    }

    /// What a test run found, as a test-result attestation records it.
    package struct TestRun: Sendable {
        package let command: String
        package let passed: Bool
        package let exitCode: Int32?
        package let timedOut: Bool
        package let seconds: Double
        package let started: Date
        package let outputDigest: Digest

        package init(
            command: String, passed: Bool, exitCode: Int32?, timedOut: Bool, seconds: Double, started: Date,
            outputDigest: Digest
        ) {
            self.command = command
            self.passed = passed
            self.exitCode = exitCode
            self.timedOut = timedOut
            self.seconds = seconds
            self.started = started
            self.outputDigest = outputDigest
        }
    }

    /// Records `run` — pass or fail, exit code, a digest of the output, the command and the time —
    /// as an in-toto test-result attestation signed by `key`.
    @discardableResult
    package func recordTestResult(_ run: TestRun, of release: ReleaseID, key: SigningKey) throws -> DSSEEnvelope {
        let app = try store.app(of: release)
        let predicate: [String: JSONValue] = [
            "result": .string(run.passed ? "PASSED" : "FAILED"),
            "configuration": .array([
                .object([
                    "name": .string("command"), "uri": .string("fixity:attest"),
                    "digest": .object(["sha256": .string(Digest.of(Array(run.command.utf8)).hex)]),
                ])
            ]),
            "passedTests": .array(run.passed ? [.string(run.command)] : []),
            "failedTests": .array(run.passed ? [] : [.string(run.command)]),
            "warnedTests": .array([]),
            "command": .string(run.command),
            "exitCode": run.exitCode.map { .number(Double($0)) } ?? .null,
            "timedOut": .bool(run.timedOut),
            "outputDigest": .string(run.outputDigest.description),
            "startedOn": .string(Instant(run.started).description),
            "seconds": .number((run.seconds * 1000).rounded() / 1000),
        ]
        let statement = InTotoStatement(
            app: app, release: release, predicateType: InTotoStatement.PredicateType.testResult,
            predicate: .object(predicate))
        let envelope = DSSEEnvelope.sign(payload: statement.jsonBytes(), key: key)
        try store.addEnvelope(envelope, about: release, source: "test attestation by \(key.id.short)")
        return envelope
    }
}
