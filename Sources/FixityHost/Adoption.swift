import FixityCore
import FixityLedger
import FixityStore

/// The other honest answer to a hot-fix: seal the live tree of a root as a new release (minus
/// the paths its release allows to change), recording where it came from. Nothing on the root
/// changes; the new release is deployed like any other.
package struct Adoption {
    package let store: Store
    package let root: DeployRoot

    package init(store: Store, root: DeployRoot) {
        self.store = store
        self.root = root
    }

    package func adopt(app: AppName, tag: String?) throws -> SealReport {
        let lock = try root.lock(timeout: 60, purpose: "adopt")
        defer { withExtendedLifetime(lock) {} }
        let scanner = DriftScanner(store: store, root: root)
        let (record, _, ignore) = try scanner.activeTree()
        let drift = try scanner.scan(full: false)
        let report = try store.seal(
            directory: root.treePath(record.deployment), app: app, tag: tag, exclude: ignore,
            validate: DeploySettings.validateForSeal)
        _ = try store.database.storeWrite { db in
            try store.record(
                db, action: .adopt, subject: report.release.description,
                details: [
                    "root": root.key, "adopted_from": record.deployment.description,
                    "from_release": record.release.description,
                    "drift_state": (drift.clean ? DriftStateDetail.clean : .drifted(drift.report.stateDigest)).text,
                    "app": app.value,
                ])
        }
        return report
    }
}
