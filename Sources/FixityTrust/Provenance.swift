import FixityCore
import FixityLedger
import FixityStore
import Foundation

/// SLSA provenance v1 (https://slsa.dev/provenance/v1) for a seal: what was sealed, from which
/// source checkout and commit, on which CI run, by which builder, with which parameters.
/// Recorded for every seal; signed by the `--sign` keys when given (then it also counts as their
/// approval of the release).
package enum Provenance {
    package static let buildType = "https://fixity.dev/seal/v1"
    package static let builderID = "https://fixity.dev/builder/fixity-cli"

    /// CI variables worth keeping: which run, which commit, which pipeline. Secrets are never
    /// among them (only these names are read).
    static let ciVariables = [
        "CI", "GITHUB_ACTIONS", "GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_REF", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT",
        "GITHUB_WORKFLOW",
        "GITLAB_CI", "CI_PROJECT_PATH", "CI_COMMIT_SHA", "CI_PIPELINE_ID", "CI_JOB_ID", "BUILDKITE_BUILD_ID",
        "BUILDKITE_COMMIT",
        "JENKINS_URL", "BUILD_ID", "BUILD_NUMBER", "GIT_COMMIT",
    ]

    package static func statement(
        for report: SealReport, directory: String, git: GitCheckout?, started: Date, finished: Date
    )
        -> InTotoStatement
    {
        let environment = ProcessInfo.processInfo.environment
        var ci = [String: JSONValue]()
        for name in ciVariables { if let value = environment[name] { ci[name] = .string(value) } }
        var external: [String: JSONValue] = ["app": .string(report.app), "source": .string(realpath(directory))]
        if let tag = report.tag { external["tag"] = .string(tag) }
        var dependencies = [JSONValue]()
        if let git {
            var source: [String: JSONValue] = [
                "uri": .string("git+" + (git.remote ?? "file://" + git.top)),
                "digest": .object(["gitCommit": .string(git.commit)]),
            ]
            source["annotations"] = .object(["dirty": .bool(git.dirty), "path": .string(git.relativePath)])
            dependencies.append(.object(source))
        }
        let predicate: JSONValue = .object([
            "buildDefinition": .object([
                "buildType": .string(buildType),
                "externalParameters": .object(external),
                "internalParameters": .object([
                    "ci": .object(ci), "user": .string(Identity.user), "host": .string(Identity.host),
                ]),
                "resolvedDependencies": .array(dependencies),
            ]),
            "runDetails": .object([
                "builder": .object(["id": .string(builderID)]),
                "metadata": .object([
                    "invocationId": .string(
                        environment["GITHUB_RUN_ID"] ?? environment["CI_JOB_ID"] ?? UUID().uuidString.lowercased()),
                    "startedOn": .string(Instant(started).description),
                    "finishedOn": .string(Instant(finished).description),
                ]),
            ]),
        ])
        return InTotoStatement(
            app: report.app, release: report.release, predicateType: InTotoStatement.PredicateType.provenance,
            predicate: predicate)
    }

    /// Records the provenance of a seal: signed by every key given (one envelope), else unsigned.
    /// An unsigned one is recorded only for a release that has no provenance yet: re-sealing the
    /// same tree would otherwise add a `sign` entry that proves nothing on every build (the
    /// first seal's statement stands). Returns nil when nothing was recorded.
    @discardableResult
    package static func record(_ statement: InTotoStatement, keys: [SigningKey], store: Store) throws -> DSSEEnvelope? {
        let release = ReleaseID(Digest(parsing: "sha256:" + statement.subject[0].digest["sha256"]!)!)
        if keys.isEmpty, try store.hasEnvelope(about: release, predicateType: statement.predicateType) { return nil }
        let payload = statement.jsonBytes()
        let type = DSSEEnvelope.inTotoPayloadType
        let signatures = keys.map { key in
            DSSEEnvelope.Signature(
                keyid: key.id.hex, signature: key.sign(DSSEEnvelope.pae(type: type, payload: payload)))
        }
        let envelope = DSSEEnvelope(payloadType: type, payload: Base64.encode(payload), signatures: signatures)
        try store.addEnvelope(envelope, about: release, source: "provenance")
        return envelope
    }

    private static func realpath(_ path: String) -> String {
        guard let resolved = Glibc.realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
