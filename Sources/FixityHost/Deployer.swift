import CFixitySys
import FixityCore
import FixityStore
import FixityTrust
import Foundation

/// What the operator asked `deploy` for; nil means "from the release's fixity.toml, else default".
package struct DeployRequest: Sendable {
    package var release: ReleaseID
    package var config: ReleaseID?
    package var env: String?
    package var healthCommand: String?
    package var healthTimeout: Double?
    package var onActivate: String?
    package var keep: Int?
    package var linkMode: LinkMode?
    package var configPath: String?
    package var immutable: Bool?
    package var lockTimeout: Double = 60
    package var force = false
    /// Deploy with no environment while a policy is in force, said in so many words (recorded).
    package var noPolicy = false
    /// Hardlink mode: trust stamped link sources, or re-hash all of them.
    package var verifySources: SourceVerification = .stamped
    /// Environments where the release is known-good by the agent's server's word (PolicyGate).
    package var vouchedKnownGood: Set<String> = []
    /// Leave old deployments for the caller to remove (`Deployer.applyRetention`) once it has
    /// said what happened: an agent reports a rollback first and cleans up after, so a rollout
    /// halts on the failure, not seconds later when a large tree is gone.
    package var deferRetention = false

    package init(release: ReleaseID) { self.release = release }
}

/// What a deploy or rollback did, for humans and `--json`.
package struct DeployOutcome: Sendable, Encodable {
    package enum Result: String, Sendable, Encodable {
        case activated
        /// The deployment was already active: nothing to do.
        case unchanged
        /// The health check (or on-activate hook) failed; the previous deployment is back.
        case rolledBack = "rolled_back"
    }

    package var result: Result
    package var root: String
    package var deployment: Digest
    package var release: ReleaseID
    package var config: ReleaseID?
    package var previous: Digest?
    package var rolledBackTo: Digest?
    package var materialized = false
    package var linkFallback = false
    /// Hardlink deploys: link sources trusted by their verified stamp, and those re-hashed.
    package var linkSourcesTrusted: Int?
    package var linkSourcesHashed: Int?
    package var onActivate: HookRun?
    package var health: HookRun?
    /// The on-activate hook of the deployment restored after a failure.
    package var onActivateRestored: HookRun?
    package var removed: [Digest] = []
    /// Of `removed`, those known-bad on this root (kept only for inspection until now).
    package var removedKnownBad: [Digest] = []
    package var warnings: [String] = []
    /// How many known-good deployments to keep, when the request deferred their removal.
    package var retentionDeferred: Int?

    enum CodingKeys: String, CodingKey {
        case result, root, deployment, release, config, previous, rolledBackTo = "rolled_back_to", materialized
        case linkSourcesTrusted = "link_sources_trusted", linkSourcesHashed = "link_sources_hashed"
        case linkFallback = "link_fallback", onActivate = "on_activate", health, onActivateRestored =
            "on_activate_restored", removed, removedKnownBad = "removed_known_bad", warnings
    }
}

/// Deploy and rollback on one root. Each call holds the root's lock from its first look at the
/// root to its last write, and follows the order: verify policy and inputs → materialize and
/// verify → make durable → switch → hooks → health → record.
package struct Deployer {
    package let store: Store
    package let root: DeployRoot
    var state: RootState { RootState(store: store, root: root) }

    package init(store: Store, root: DeployRoot) {
        self.store = store
        self.root = root
    }

    package func deploy(_ request: DeployRequest, progress: WorkProgress? = nil) throws -> DeployOutcome {
        let appManifest = try store.manifest(request.release)
        var settings = try DeploySettings.fromRelease(appManifest, store: store)
        let releaseConfigPath = settings.configPath
        if let value = request.healthCommand { settings.healthCommand = value.isEmpty ? nil : value }
        if let value = request.healthTimeout { settings.healthTimeout = value }
        if let value = request.onActivate { settings.onActivate = value.isEmpty ? nil : value }
        if let value = request.keep { settings.keep = value }
        if let value = request.linkMode { settings.linkMode = value }
        if let value = request.configPath { settings.configPath = value }
        if let value = request.immutable { settings.immutable = value }

        if settings.linkMode == .hardlink && settings.immutable {
            throw DeployError(
                "--immutable cannot be combined with --link hardlink: the attribute would land on the store's shared link sources"
            )
        }
        let configManifest = try request.config.map { try store.manifest($0) }
        let deployment = try Deployment(
            release: request.release, config: request.config,
            configPath: request.config == nil ? nil : settings.configPath)
        let tree = try deployment.combinedManifest(app: appManifest, config: configManifest)
        let id = deployment.id
        let hooks = SwitchHooks(settings)

        let lock = try root.lock(timeout: request.lockTimeout, purpose: "deploy")
        defer { withExtendedLifetime(lock) {} }
        // The environment (the root's binding, the flag, the policy's default) and its policy,
        // before anything is materialized or switched.
        let (env, bindNow, governed) = try resolveEnvironment(requested: request.env, noPolicy: request.noPolicy)
        // Under a policy the release decides where its config goes (its sealed fixity.toml): a
        // flag could otherwise drop a config file over any path of the tree (bin/hooks.d).
        if governed, request.config != nil, let flag = request.configPath, flag != releaseConfigPath {
            throw DeployError(
                "--config-path \(flag) is refused under a policy: release \(request.release.short) mounts its config at \(releaseConfigPath) (deploy.config_path in its fixity.toml)"
            )
        }
        let policy =
            try env.map {
                try PolicyGate(store: store).enforce(
                    env: $0, release: request.release, config: request.config, vouched: request.vouchedKnownGood)
            } ?? nil
        root.removeLeftovers()
        let previous = try root.activeDeployment()
        var outcome = DeployOutcome(
            result: .activated, root: root.path, deployment: id, release: request.release, config: request.config,
            previous: previous)
        let record = try state.find(id)
        if record?.health == .knownBad, !request.force {
            let active = previous == id ? "active but " : ""
            throw DeployError(
                "deployment \(id.short) is \(active)known-bad on \(root.path) (\(record?.reason ?? "its health check failed")); deploy it again with --force"
            )
        }
        if previous == id, record?.health == .knownGood {
            outcome.result = .unchanged
            return outcome
        }
        if bindNow, let env { try state.bind(env: env) }
        try state.register(
            deployment, env: env, hooks: hooks, event: .deploy,
            details: [
                "release": request.release.description, "config": LedgerDetail.optional(request.config?.description),
                "env": LedgerDetail.optional(env),
                "config_path": LedgerDetail.optional(deployment.configPath), "link": settings.linkMode.rawValue,
                "forced": String(request.force),
                "policy": policy?.description ?? (request.noPolicy ? "none (--no-policy)" : LedgerDetail.absent),
            ])

        // A tree is used only once it is proven to be what Fixity wrote; anything else at its
        // name is replaced by a fresh, verified materialization.
        if !verifiedTreeExists(id) {
            let materializer: TreeMaterializer
            do {
                materializer = try root.materialize(
                    id, manifest: tree, ignore: settings.driftIgnore, store: store, linkMode: settings.linkMode,
                    immutable: settings.immutable, progress: progress,
                    sourceVerification: request.verifySources)
            } catch let error as StoreError where error.code == .integrity {
                throw StoreError(
                    .integrity,
                    "deploying release \(request.release.short)\(request.config.map { " with config \($0.short)" } ?? ""): \(error.message)",
                    path: error.path)
            }
            outcome.materialized = true
            outcome.linkFallback = materializer.fellBackToCopy
            if settings.linkMode == .hardlink {
                (outcome.linkSourcesTrusted, outcome.linkSourcesHashed) = materializer.linkSources
            }
            if materializer.immutableUnavailable {
                outcome.warnings.append(
                    "--immutable: could not set the immutable attribute (needs CAP_LINUX_IMMUTABLE and a file system that has it); the tree is not immutable"
                )
            }
            try state.update(
                id, materialized: true, event: .materialize,
                details: ["files": String(tree.fileCount), "link": settings.linkMode.rawValue])
        }

        if previous != id {
            try root.activate(id)
            try state.update(
                id, activated: true, event: .activate,
                details: Self.switchDetails(
                    deployment, env: env, ["previous": LedgerDetail.optional(previous?.description)]))
        } else {
            // Active but never health-checked (a deploy killed mid-check, or --force on a
            // known-bad one): check it now instead of calling it done.
            outcome.warnings.append(
                "deployment \(id.short) was already active but \(record?.health.rawValue ?? "unrecorded"); checking it now"
            )
        }
        let history = try state.history(active: id)
        let recovery =
            previous == id
            ? history.recoveryTarget(failed: id, previous: nil)?.deployment
            : (history.recoveryTarget(failed: id, previous: previous)?.deployment ?? previous)
        try checkSwitch(
            to: deployment, hooks: hooks, env: env, returnTo: recovery, undoing: false, linkMode: settings.linkMode,
            outcome: &outcome, progress: progress)
        if request.deferRetention {
            outcome.retentionDeferred = settings.keep
        } else {
            outcome.removed = try applyRetention(keep: settings.keep)
            outcome.removedKnownBad = try outcome.removed.filter { try state.find($0)?.health == .knownBad }
        }
        return outcome
    }

    /// The retention a deploy deferred (`DeployRequest.deferRetention`), under the root's lock.
    package func applyRetention(keep: Int, lockTimeout: Double) throws -> [Digest] {
        let lock = try root.lock(timeout: lockTimeout, purpose: "retention")
        defer { withExtendedLifetime(lock) {} }
        return try applyRetention(keep: keep)
    }

    /// Runs the hooks of the deployment just switched to, with its own ids, and records its
    /// health. On failure it is marked known-bad and `returnTo` comes back (with its own hooks);
    /// with nothing to return to, `current` is removed. `undoing` (a rollback whose target
    /// failed) returns to `returnTo` whatever its health: it is what was live before.
    /// A stop signal (SIGTERM, SIGINT) during the check kills it, restores `returnTo` and
    /// throws: the deployment stays `pending`, not known-bad, since its check never finished.
    private func checkSwitch(
        to deployment: Deployment, hooks: SwitchHooks, env: String?, returnTo: Digest?, undoing: Bool,
        linkMode: LinkMode,
        outcome: inout DeployOutcome, progress: WorkProgress?
    ) throws {
        let id = deployment.id
        fixity_install_stop_handlers()
        var failure: String?
        var interrupted = false
        if let hook = hooks.onActivate {
            let run = try HookRun.run(
                hook, in: root.absoluteTreePath(id), environment: hookEnvironment(deployment, env: env),
                timeout: hooks.healthTimeout)
            outcome.onActivate = run
            if run.interrupted {
                interrupted = true
            } else if !run.passed {
                failure = "on-activate hook \(Self.describe(run))"
            }
        }
        if failure == nil, !interrupted, let check = hooks.healthCommand {
            let run = try HookRun.run(
                check, in: root.absoluteTreePath(id), environment: hookEnvironment(deployment, env: env),
                timeout: hooks.healthTimeout)
            outcome.health = run
            if run.interrupted {
                interrupted = true
            } else if !run.passed {
                failure = "health check \(Self.describe(run))"
            }
        }
        if !interrupted && failure == nil && fixity_stop_requested() == 0 {
            let releaseCheck = try DeploySettings.fromRelease(try store.manifest(deployment.release), store: store)
                .healthCommand
            let counts = KnownGood.counts(
                check: hooks.healthCommand, releaseCheck: releaseCheck, env: env, boundEnv: try state.binding())
            try state.update(
                id, health: .knownGood, reason: nil, event: .health,
                details: [
                    "result": (hooks.healthCommand == nil ? HealthResult.noCheck : .pass).rawValue,
                    "release": deployment.release.description,
                    "config": LedgerDetail.optional(deployment.config?.description), "env": LedgerDetail.optional(env),
                    KnownGood.countsDetail: String(counts),
                ])
            return
        }
        if interrupted || failure == nil {
            try state.update(
                id, reason: "interrupted by a stop signal during its health check", event: .health,
                details: ["result": HealthResult.interrupted.rawValue])
        } else if let failure {
            try state.update(
                id, health: .knownBad, reason: failure, event: .health, details: ["result": HealthResult.fail.rawValue])
        }
        if let target = returnTo {
            try ensureVerified(target, linkMode: linkMode, progress: progress)
            try root.activate(target)
            let back = try state.find(target)
            try state.update(
                target, activated: true, event: .rollback,
                details: Self.switchDetails(
                    back?.asDeployment, env: back?.env,
                    [
                        "from": id.description, "automatic": LedgerDetail.flag(true),
                        "reason": interrupted || failure == nil
                            ? "interrupted" : (undoing ? "rollback target failed" : "health check failed"),
                    ]))
            // The restored deployment's own hook (a service reload), with its own ids; it must
            // run even when a stop signal is what brought us here.
            if let back, let hook = try switchHooks(of: back).onActivate {
                outcome.onActivateRestored = try? HookRun.run(
                    hook, in: root.absoluteTreePath(target),
                    environment: hookEnvironment(back.asDeployment, env: back.env), timeout: hooks.healthTimeout,
                    stoppable: false)
            }
        } else {
            try root.deactivate()
            try state.update(
                id, event: .deactivate,
                details: [
                    "reason": "first deployment on this root failed; no earlier deployment to return to",
                    "env": LedgerDetail.optional(env),
                ])
        }
        if interrupted || failure == nil {
            let restored = returnTo.map { "deployment \($0.short) is live again" } ?? "no deployment is active"
            throw DeployError(
                "interrupted by a stop signal while checking \(id.short); \(restored); \(id.short) stays pending (not known-bad)"
            )
        }
        outcome.result = .rolledBack
        outcome.rolledBackTo = returnTo
    }

    /// Which environment a deploy on this root is for, and whether to bind the root to it now.
    ///
    /// A root is bound to the environment of its first deploy with --env; afterwards every
    /// deploy names that environment (another one, or none, is refused). While a policy is in
    /// force, a deploy without an environment is refused unless the policy has a
    /// `default_environment` or the operator says `--no-policy`; an environment the policy does
    /// not define is refused, listing the ones it does. Names match exactly.
    /// `governed`: an environment was resolved and a policy is in force.
    func resolveEnvironment(requested: String?, noPolicy: Bool) throws -> (env: String?, bind: Bool, governed: Bool) {
        let bound = try state.binding()
        let policy = try store.currentPolicy().map {
            try PolicyFile.parse($0.text, name: "in force (\($0.digest.short))")
        }
        let known = policy.map { $0.environments.keys.sorted().joined(separator: ", ") } ?? ""
        if let bound {
            guard let requested else {
                throw DeployError(
                    "root \(root.path) is bound to environment \(bound) (since its first deploy there); deploy with --env \(bound)"
                )
            }
            guard requested == bound else {
                throw DeployError(
                    "root \(root.path) is bound to environment \(bound), not \(requested): a root serves one environment; use another root for \(requested)"
                )
            }
            if noPolicy {
                throw DeployError(
                    "--no-policy cannot be used on root \(root.path): it is bound to environment \(bound)")
            }
        }
        var env = requested
        if env == nil, let policy, !noPolicy {
            guard let fallback = policy.defaultEnvironment else {
                throw DeployError(
                    "a policy is in force: name the environment with --env (one of: \(known)), or deploy outside any policy with --no-policy"
                )
            }
            env = fallback
        }
        if noPolicy, requested != nil { throw DeployError("--no-policy and --env exclude each other") }
        if let env, let policy, policy.environments[env] == nil {
            throw DeployError("environment '\(env)' is not defined by the policy in force (defined: \(known))")
        }
        return (env, bound == nil && env != nil, env != nil && policy != nil)
    }

    /// The hooks recorded for a deployment, else (recorded before hooks were kept) its release's.
    private func switchHooks(of record: RootDeployment) throws -> SwitchHooks {
        if let hooks = record.hooks { return hooks }
        return SwitchHooks(try DeploySettings.fromRelease(try store.manifest(record.release), store: store))
    }

    /// What every hook and health check sees: the ids of the deployment it runs in, and the root
    /// as an absolute path (hooks run with the deployment folder as working directory).
    private func hookEnvironment(_ deployment: Deployment, env: String?) -> [String: String] {
        [
            "FIXITY_RELEASE": deployment.release.description, "FIXITY_ROOT": root.key, "FIXITY_ENV": env ?? "",
            "FIXITY_DEPLOYMENT": deployment.id.description, "FIXITY_CONFIG": deployment.config?.description ?? "",
        ]
    }

    /// Rolls back to `target` (a deployment id or a release), or by default to the newest
    /// known-good deployment older than the active one. The target's own hooks and health check
    /// run; when they fail, the rollback is undone (what was live before comes back) and the
    /// outcome says `rolled_back`. A known-bad target needs `force`.
    package func rollback(
        to target: RollbackTarget?, lockTimeout: Double, force: Bool = false, progress: WorkProgress? = nil
    ) throws -> DeployOutcome {
        let lock = try root.lock(timeout: lockTimeout, purpose: "rollback")
        defer { withExtendedLifetime(lock) {} }
        root.removeLeftovers()
        let active = try root.activeDeployment()
        let history = try state.history(active: active)
        let chosen: Deployment
        switch target {
        case nil:
            guard let record = history.rollbackTarget(), let stored = try state.find(record.deployment) else {
                throw DeployError(
                    "no known-good deployment older than the active one on \(root.path); name one with --to")
            }
            chosen = stored.asDeployment
        case .deployment(let id)?:
            guard let stored = try state.find(id) else {
                throw DeployError("deployment \(id.short) was never deployed on \(root.path)")
            }
            chosen = stored.asDeployment
        case .release(let release)?:
            let all = try state.all().filter { $0.release == release }
            if let good = all.last(where: { $0.health == .knownGood }) ?? all.last {
                chosen = good.asDeployment
            } else {
                chosen = try Deployment(release: release, config: nil, configPath: nil)
            }
        }
        let id = chosen.id
        if let record = try state.find(id), record.health == .knownBad, !force {
            throw DeployError(
                "deployment \(id.short) is known-bad on \(root.path) (\(record.reason ?? "its health check failed")); roll back to it with --force"
            )
        }
        // Rolling back by name re-enters an environment: its policy applies as to a deploy
        // (keys revoked since no longer count). The automatic choice is a known-good state.
        // A bound root's environment is its binding, whatever a row says.
        let env = try state.binding() ?? state.find(id)?.env ?? (try active.flatMap { try state.find($0)?.env })
        var policy: Digest?
        if target != nil, let env {
            policy = try PolicyGate(store: store).enforce(env: env, release: chosen.release, config: chosen.config)
        }
        var outcome = DeployOutcome(
            result: .activated, root: root.path, deployment: id, release: chosen.release, config: chosen.config,
            previous: active)
        if active == id {
            outcome.result = .unchanged
            return outcome
        }
        if try state.find(id) == nil {
            // A release never deployed on this root, named by rollback --to: recorded with its
            // entry in one transaction.
            try state.register(
                chosen, env: env, event: .deploy,
                details: [
                    "release": chosen.release.description, "config": LedgerDetail.optional(chosen.config?.description),
                    "env": LedgerDetail.optional(env),
                    "config_path": LedgerDetail.optional(chosen.configPath), "via": "rollback --to",
                    "policy": LedgerDetail.optional(policy?.description),
                ])
        }
        guard let record = try state.find(id) else {
            throw DeployError("deployment \(id.short) is not recorded on \(root.path)")
        }
        let hooks = try switchHooks(of: record)
        let linkMode =
            (try? DeploySettings.fromRelease(try store.manifest(chosen.release), store: store).linkMode) ?? .auto
        outcome.materialized = try ensureVerified(id, linkMode: linkMode, progress: progress)
        try root.activate(id)
        try state.update(
            id, activated: true, event: .rollback,
            details: Self.switchDetails(
                chosen, env: env,
                [
                    "from": LedgerDetail.optional(active?.description), "automatic": LedgerDetail.flag(false),
                    "policy": LedgerDetail.optional(policy?.description),
                ]))
        try checkSwitch(
            to: chosen, hooks: hooks, env: env, returnTo: active, undoing: true, linkMode: linkMode, outcome: &outcome,
            progress: progress)
        return outcome
    }

    /// True when `deployments/<id>` exists and its stat snapshot (written by Fixity into
    /// `ROOT/.fixity`, which only Fixity's user can write) proves it unchanged since Fixity wrote
    /// it. A folder merely present under a predictable name proves nothing: someone who can
    /// write to the root may have planted it, hooks included.
    private func verifiedTreeExists(_ id: Digest) -> Bool {
        guard root.isMaterialized(id), case .success(let snapshot) = StatSnapshot.load(for: id, in: root) else {
            return false
        }
        guard let treeFD = try? root.openTree(id) else { return false }
        defer { Posix.close(treeFD) }
        return snapshot.provesClean(treeFD: treeFD) != nil
    }

    /// Makes a recorded deployment's tree trustworthy: reused when proven, else re-materialized
    /// from the store, verified (whatever was at its name is removed first).
    /// True when it had to materialize.
    @discardableResult
    private func ensureVerified(_ id: Digest, linkMode: LinkMode, progress: WorkProgress?) throws -> Bool {
        guard !verifiedTreeExists(id) else { return false }
        guard let record = try state.find(id) else {
            throw DeployError("deployment \(id.short) is not recorded on \(root.path)")
        }
        let deployment = record.asDeployment
        let app = try store.manifest(deployment.release)
        let tree = try deployment.combinedManifest(
            app: app, config: try deployment.config.map { try store.manifest($0) })
        let settings = try DeploySettings.fromRelease(app, store: store)
        _ = try root.materialize(
            id, manifest: tree, ignore: settings.driftIgnore, store: store, linkMode: linkMode,
            immutable: settings.immutable, progress: progress)
        try state.update(id, materialized: true, event: .materialize, details: ["files": String(tree.fileCount)])
        return true
    }

    /// Removes materialized deployments beyond the newest `keep` known-good ones (never the active one).
    private func applyRetention(keep: Int) throws -> [Digest] {
        let active = try root.activeDeployment()
        let victims = try state.history(active: active).retentionVictims(keep: keep)
        for victim in victims where victim != active {
            // A hardlinked deployment shares inodes with the store's link sources: removing it
            // moves their ctime, so their stamps are checked just before and renewed just after.
            let sources = try linkSources(of: victim)
            let before = sources.isEmpty ? [:] : try store.stampedLinkSourceStats(sources)
            try root.remove(victim)
            if !before.isEmpty { try store.restampAfterUnlinking(before: before) }
            try state.update(victim, materialized: false, event: .remove, details: ["keep": String(keep)])
        }
        return victims
    }

    /// The link sources a deployment's files would use (whether or not it was hardlinked:
    /// only sources that exist and carry a stamp are looked at).
    private func linkSources(of deployment: Digest) throws -> Set<LinkSourceKey> {
        guard let record = try state.find(deployment) else { return [] }
        let pair = record.asDeployment
        let tree = try pair.combinedManifest(
            app: try store.manifest(pair.release), config: try pair.config.map { try store.manifest($0) })
        // A plain loop: the optimizer (Swift 6.3.1, -c release) crashed on a compactMap here.
        var keys = Set<LinkSourceKey>()
        for entry in tree.entries {
            guard let digest = entry.digest else { continue }
            keys.insert(LinkSourceKey(digest: digest, mode: entry.mode))
        }
        return keys
    }

    /// What a switching entry says about where it switched to, so `state --at` and proof bundles
    /// answer from that one entry (ActivationTimeline): the pair, its mount point and the env.
    static func switchDetails(_ deployment: Deployment?, env: String?, _ extra: [String: String]) -> [String: String] {
        var details = extra
        details["env"] = LedgerDetail.optional(env)
        if let deployment {
            details["release"] = deployment.release.description
            details["config"] = LedgerDetail.optional(deployment.config?.description)
            if let path = deployment.configPath { details["config_path"] = path }
        }
        return details
    }

    static func describe(_ run: HookRun) -> String {
        if run.timedOut {
            return "'\(run.command)' timed out after \(String(format: "%.1f", run.seconds)) s and was killed"
        }
        return "'\(run.command)' exited \(run.exitCode.map(String.init) ?? "?")"
    }
}

package enum RollbackTarget: Sendable {
    case deployment(Digest)
    case release(ReleaseID)
}
