import FixityCore
import FixityLedger
import FixityStore

/// Where a release (with its config release) is known-good, for a policy's
/// `require_known_good_in`. Computed from the ledger's `health` entries — never from the
/// `root_deployments` table, which is a cache someone with the database could edit — and
/// counting only a switch that earns it:
///
/// - its health check passed, and it had one (no check proves nothing);
/// - the check was the release's own `health_cmd` from its sealed `fixity.toml`, when it has one
///   (a deployer cannot swap in `--health-cmd true`); a release without one needs some check;
/// - the root was bound to that environment (its `bind` entry says so), so a scratch root cannot
///   vouch for staging by merely saying `--env staging` once.
package enum KnownGood {
    /// The detail of a `health` entry that says whether this pass counts (`"true"`/`"false"`).
    package static let countsDetail = "counts_for_promotion"

    /// Whether a passed switch counts: a non-empty check that is the release's own (if it has
    /// one), on a root bound to `env`.
    package static func counts(check: String?, releaseCheck: String?, env: String?, boundEnv: String?) -> Bool {
        guard let check, !check.trimmingCharacters(in: .whitespaces).isEmpty, let env, boundEnv == env else {
            return false
        }
        if let releaseCheck { return check == releaseCheck }
        return true
    }

    /// Environments where the pair (`release`, `config`) has a counting pass in the ledger.
    package static func environments(store: Store, release: ReleaseID, config: ReleaseID?) throws -> Set<String> {
        try store.database.storeRead { db in
            var environments = Set<String>()
            let configText = LedgerDetail.optional(config?.description)
            for entry in try History.entries(db, actions: [.health])
            where entry.details["release"] == release.description && entry.details["config"] == configText
                && entry.details["result"] == HealthResult.pass.rawValue
                && entry.details[countsDetail] == LedgerDetail.flag(true)
            {
                guard let env = entry.optionalDetail("env"), let root = entry.details["root"] else { continue }
                let binding = try History.latest(db, action: LedgerAction.bind, subject: root) { _ in true }
                if binding?.details["env"] == env { environments.insert(env) }
            }
            // Hosts of a fleet (docs/agent.md): a deployed report whose health passed and
            // counts, for a host enrolled into the environment the server recorded (never the
            // environment the report names: a host cannot vouch for another environment).
            if config == nil {
                for entry in try History.entries(db, actions: [.hostReport])
                where entry.details["release"] == release.description
                    && entry.details["event"] == "deployed"
                    && entry.details["health"] == HealthResult.pass.rawValue
                    && entry.details[countsDetail] == LedgerDetail.flag(true)
                {
                    if let env = entry.optionalDetail("env") { environments.insert(env) }
                }
            }
            return environments
        }
    }
}
