import FixityCore
import FixityHost
import FixityStore
import FixityTrust
import Foundation

/// Seal a built folder into a release: refused before anything is written when its
/// `fixity.toml` could not deploy, then SLSA provenance recorded — signed by the given keys (it
/// then counts as their approval), else unsigned once per release — naming the git checkout the
/// folder is in, which is asked of `git` while the seal walks and hashes.
package struct SealRelease: Sendable {
    package let directory: String
    package let app: AppName
    package let tag: String?
    package let signingKeys: [SigningKey]

    package init(directory: String, app: AppName, tag: String? = nil, signingKeys: [SigningKey] = []) {
        self.directory = directory
        self.app = app
        self.tag = tag
        self.signingKeys = signingKeys
    }

    package struct Result: Sendable {
        package let report: SealReport
        /// The provenance envelope recorded by this seal; nil when an unsigned one already existed.
        package let provenance: DSSEEnvelope?
    }

    package func run(in store: Store, progress: WorkProgress? = nil) throws -> Result {
        let started = store.clock.now()
        let git = GitProbe(directory: directory)
        let report: SealReport
        do {
            report = try store.seal(
                directory: directory, app: app, tag: tag, progress: progress, validate: DeploySettings.validateForSeal)
        } catch {
            // Reap git's processes and close their output files: a server seals many times.
            _ = git.finish()
            throw error
        }
        let statement = Provenance.statement(
            for: report, directory: directory, git: git.finish(), started: started, finished: store.clock.now())
        let envelope = try Provenance.record(statement, keys: signingKeys, store: store)
        return Result(report: report, provenance: envelope)
    }

    package func run(in store: Store, progress: WorkProgress? = nil) async throws -> Result {
        try await BlockingWork.run { try run(in: store, progress: progress) }
    }
}
