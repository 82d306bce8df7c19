import FixityCore
import FixityLedger
import FixityStore
import Foundation
import Glibc

/// Signed statements about releases: approvals (`fixity sign`), and test results made by
/// running a command against the exact bytes of a release (`fixity attest`).
public struct Attestations {
    public let store: Store

    public init(store: Store) { self.store = store }

    /// Signs "KEY approves RELEASE" and stores the envelope.
    @discardableResult
    public func approve(_ release: ReleaseID, key: SigningKey, role: String?) throws -> DSSEEnvelope {
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

    public struct TestOutcome: Sendable, Encodable {
        public let release: ReleaseID
        public let passed: Bool
        public let run: HookRun
        public let outputDigest: Digest
        public let envelope: DSSEEnvelope

        enum CodingKeys: String, CodingKey { case release, passed, run, outputDigest = "output_digest", envelope }
    }

    /// Exports the release into a throwaway folder (every byte verified), runs `command` there
    /// with `/bin/sh -c`, and records the outcome — pass or fail, exit code, a digest of the
    /// output, the command and the time — as a signed in-toto test-result attestation.
    public func attest(_ release: ReleaseID, command: String, key: SigningKey, timeout: Double, progress: WorkProgress?)
        throws -> TestOutcome
    {
        let app = try store.app(of: release)
        let scratch = try PrivateTempFolder(purpose: "attest")
        defer { scratch.remove() }
        let tree = scratch.child("tree")
        try store.export(release, to: tree, progress: progress)
        let started = store.clock.now()
        let run = try HookRun.run(
            command, in: tree, environment: ["FIXITY_RELEASE": release.description, "FIXITY_ENV": "attest"],
            timeout: timeout)
        let outputDigest = Digest.of(Array(run.outputTail.utf8))
        let predicate: [String: JSONValue] = [
            "result": .string(run.passed ? "PASSED" : "FAILED"),
            "configuration": .array([
                .object([
                    "name": .string("command"), "uri": .string("fixity:attest"),
                    "digest": .object(["sha256": .string(Digest.of(Array(command.utf8)).hex)]),
                ])
            ]),
            "passedTests": .array(run.passed ? [.string(command)] : []),
            "failedTests": .array(run.passed ? [] : [.string(command)]),
            "warnedTests": .array([]),
            "command": .string(command),
            "exitCode": run.exitCode.map { .number(Double($0)) } ?? .null,
            "timedOut": .bool(run.timedOut),
            "outputDigest": .string(outputDigest.description),
            "startedOn": .string(Instant(started).description),
            "seconds": .number((run.seconds * 1000).rounded() / 1000),
        ]
        let statement = InTotoStatement(
            app: app, release: release, predicateType: InTotoStatement.PredicateType.testResult,
            predicate: .object(predicate))
        let envelope = DSSEEnvelope.sign(payload: statement.jsonBytes(), key: key)
        try store.addEnvelope(envelope, about: release, source: "test attestation by \(key.id.short)")
        return TestOutcome(
            release: release, passed: run.passed, run: run, outputDigest: outputDigest, envelope: envelope)
    }
}
