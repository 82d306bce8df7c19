import FixityCore
import FixityStore
import Foundation

/// What the operator asked `deploy` for; nil means "from the release's fixity.toml, else default".
public struct DeployRequest: Sendable {
    public var release: ReleaseID
    public var config: ReleaseID?
    public var env: String?
    public var healthCommand: String?
    public var healthTimeout: Double?
    public var onActivate: String?
    public var keep: Int?
    public var linkMode: LinkMode?
    public var configPath: String?
    public var immutable: Bool?
    public var lockTimeout: Double = 60
    public var force = false

    public init(release: ReleaseID) { self.release = release }
}

/// What a deploy or rollback did, for humans and `--json`.
public struct DeployOutcome: Sendable, Encodable {
    public enum Result: String, Sendable, Encodable {
        case activated
        /// The deployment was already active: nothing to do.
        case unchanged
        /// The health check (or on-activate hook) failed; the previous deployment is back.
        case rolledBack = "rolled_back"
    }

    public var result: Result
    public var root: String
    public var deployment: Digest
    public var release: ReleaseID
    public var config: ReleaseID?
    public var previous: Digest?
    public var rolledBackTo: Digest?
    public var materialized = false
    public var linkFallback = false
    public var onActivate: HookRun?
    public var health: HookRun?
    public var removed: [Digest] = []
    public var warnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case result, root, deployment, release, config, previous, rolledBackTo = "rolled_back_to", materialized
        case linkFallback = "link_fallback", onActivate = "on_activate", health, removed, warnings
    }
}

/// Deploy and rollback on one root. Each call holds the root's lock from its first look at the
/// root to its last write, and follows the order: verify policy and inputs → materialize and
/// verify → make durable → switch → hooks → health → record.
public struct Deployer {
    public let store: Store
    public let root: DeployRoot
    var state: RootState { RootState(store: store, root: root) }

    public init(store: Store, root: DeployRoot) {
        self.store = store
        self.root = root
    }

    public func deploy(_ request: DeployRequest, progress: WorkProgress? = nil) throws -> DeployOutcome {
        let appManifest = try store.manifest(request.release)
        var settings = try DeploySettings.fromRelease(appManifest, store: store)
        if let value = request.healthCommand { settings.healthCommand = value.isEmpty ? nil : value }
        if let value = request.healthTimeout { settings.healthTimeout = value }
        if let value = request.onActivate { settings.onActivate = value.isEmpty ? nil : value }
        if let value = request.keep { settings.keep = value }
        if let value = request.linkMode { settings.linkMode = value }
        if let value = request.configPath { settings.configPath = value }
        if let value = request.immutable { settings.immutable = value }

        if settings.linkMode == .hardlink && settings.immutable {
            throw DeployError("--immutable cannot be combined with --link hardlink: the attribute would land on the store's shared link sources")
        }
        let configManifest = try request.config.map { try store.manifest($0) }
        let deployment = try Deployment(release: request.release, config: request.config, configPath: request.config == nil ? nil : settings.configPath)
        let tree = try deployment.combinedManifest(app: appManifest, config: configManifest)
        let id = deployment.id

        // The environment's policy, before the root is touched or anything is materialized.
        let policy = try request.env.map { try PolicyGate(store: store).enforce(env: $0, release: request.release, config: request.config) } ?? nil

        let lock = try root.lock(timeout: request.lockTimeout, purpose: "deploy")
        defer { withExtendedLifetime(lock) {} }
        root.removeLeftovers()
        let previous = try root.activeDeployment()
        var outcome = DeployOutcome(result: .activated, root: root.path, deployment: id, release: request.release, config: request.config, previous: previous)
        if previous == id {
            outcome.result = .unchanged
            return outcome
        }
        if let record = try state.find(id), record.health == .knownBad, !request.force {
            throw DeployError("deployment \(id.short) is known-bad on \(root.path) (\(record.reason ?? "its health check failed")); deploy it again with --force")
        }
        try state.register(deployment, env: request.env)
        try state.update(id, event: "deploy", details: [
            "release": request.release.description, "config": request.config?.description ?? "-", "env": request.env ?? "-",
            "config_path": deployment.configPath ?? "-", "link": settings.linkMode.rawValue, "forced": String(request.force), "policy": policy?.description ?? "-",
        ])

        if !root.isMaterialized(id) {
            let materializer = try root.materialize(id, manifest: tree, ignore: settings.driftIgnore, store: store, linkMode: settings.linkMode, immutable: settings.immutable, progress: progress)
            outcome.materialized = true
            outcome.linkFallback = materializer.fellBackToCopy
            if materializer.immutableUnavailable {
                outcome.warnings.append("--immutable: could not set the immutable attribute (needs CAP_LINUX_IMMUTABLE and a file system that has it); the tree is not immutable")
            }
            try state.update(id, materialized: true, event: "materialize", details: ["files": String(tree.fileCount), "link": settings.linkMode.rawValue])
        }

        try root.activate(id)
        try state.update(id, activated: true, event: "activate", details: Self.switchDetails(deployment, env: request.env, ["previous": previous?.description ?? "-"]))

        let environment = [
            "FIXITY_RELEASE": request.release.description, "FIXITY_ROOT": root.path, "FIXITY_ENV": request.env ?? "",
            "FIXITY_DEPLOYMENT": id.description,
        ]
        let treePath = root.treePath(id)
        var failure: String?
        if let hook = settings.onActivate {
            let run = try HookRun.run(hook, in: treePath, environment: environment, timeout: settings.healthTimeout)
            outcome.onActivate = run
            if !run.passed { failure = "on-activate hook \(Self.describe(run))" }
        }
        if failure == nil, let check = settings.healthCommand {
            let run = try HookRun.run(check, in: treePath, environment: environment, timeout: settings.healthTimeout)
            outcome.health = run
            if !run.passed { failure = "health check \(Self.describe(run))" }
        }

        if let failure {
            try state.update(id, health: .knownBad, reason: failure, event: "health", details: ["result": "fail"])
            let history = try state.history(active: id)
            let target = history.recoveryTarget(failed: id, previous: previous)?.deployment ?? previous
            if let target {
                try ensureMaterialized(target, linkMode: settings.linkMode, progress: progress)
                try root.activate(target)
                let back = try state.find(target)
                try state.update(target, activated: true, event: "rollback", details: Self.switchDetails(back?.asDeployment, env: back?.env, ["from": id.description, "automatic": "true"]))
                if let hook = settings.onActivate {
                    _ = try? HookRun.run(hook, in: root.treePath(target), environment: environment, timeout: settings.healthTimeout)
                }
            } else {
                try root.deactivate()
                try state.update(id, event: "deactivate", details: ["reason": "first deployment on this root failed; no earlier deployment to return to", "env": request.env ?? "-"])
            }
            outcome.result = .rolledBack
            outcome.rolledBackTo = target
        } else {
            try state.update(id, health: .knownGood, reason: nil, event: "health", details: ["result": settings.healthCommand == nil ? "no health check" : "pass"])
        }
        outcome.removed = try applyRetention(keep: settings.keep)
        return outcome
    }

    /// Rolls back to `target` (a deployment id or a release), or by default to the newest
    /// known-good deployment older than the active one.
    public func rollback(to target: RollbackTarget?, lockTimeout: Double, progress: WorkProgress? = nil) throws -> DeployOutcome {
        let lock = try root.lock(timeout: lockTimeout, purpose: "rollback")
        defer { withExtendedLifetime(lock) {} }
        root.removeLeftovers()
        let active = try root.activeDeployment()
        let history = try state.history(active: active)
        let chosen: Deployment
        switch target {
        case nil:
            guard let record = history.rollbackTarget(), let stored = try state.find(record.deployment) else {
                throw DeployError("no known-good deployment older than the active one on \(root.path); name one with --to")
            }
            chosen = stored.asDeployment
        case .deployment(let id)?:
            guard let stored = try state.find(id) else { throw DeployError("deployment \(id.short) was never deployed on \(root.path)") }
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
        // Rolling back by name re-enters an environment: its policy applies as to a deploy
        // (keys revoked since no longer count). The automatic choice is a known-good state.
        let env = try state.find(id)?.env ?? (try active.flatMap { try state.find($0)?.env })
        var policy: Digest?
        if target != nil, let env { policy = try PolicyGate(store: store).enforce(env: env, release: chosen.release, config: chosen.config) }
        var outcome = DeployOutcome(result: .activated, root: root.path, deployment: id, release: chosen.release, config: chosen.config, previous: active)
        if active == id {
            outcome.result = .unchanged
            return outcome
        }
        try state.register(chosen, env: env)
        if !root.isMaterialized(id) {
            try ensureMaterialized(id, linkMode: .auto, progress: progress)
            outcome.materialized = true
        }
        try root.activate(id)
        try state.update(id, activated: true, event: "rollback", details: Self.switchDetails(chosen, env: env, [
            "from": active?.description ?? "-", "automatic": "false", "policy": policy?.description ?? "-",
        ]))
        if try state.find(id)?.health == .pending {
            // Chosen by name and never health-checked here: switched to, so known-good by definition.
            try state.update(id, health: .knownGood, reason: nil, event: "health", details: ["result": "no health check"])
        }
        return outcome
    }

    /// Re-materializes a recorded deployment from the store, verified, when its tree is gone.
    private func ensureMaterialized(_ id: Digest, linkMode: LinkMode, progress: WorkProgress?) throws {
        guard !root.isMaterialized(id) else { return }
        guard let record = try state.find(id) else { throw DeployError("deployment \(id.short) is not recorded on \(root.path)") }
        let deployment = record.asDeployment
        let app = try store.manifest(deployment.release)
        let tree = try deployment.combinedManifest(app: app, config: try deployment.config.map { try store.manifest($0) })
        let settings = try DeploySettings.fromRelease(app, store: store)
        _ = try root.materialize(id, manifest: tree, ignore: settings.driftIgnore, store: store, linkMode: linkMode, immutable: settings.immutable, progress: progress)
        try state.update(id, materialized: true, event: "materialize", details: ["files": String(tree.fileCount)])
    }

    /// Removes materialized deployments beyond the newest `keep` known-good ones (never the active one).
    private func applyRetention(keep: Int) throws -> [Digest] {
        let active = try root.activeDeployment()
        let victims = try state.history(active: active).retentionVictims(keep: keep)
        for victim in victims where victim != active {
            try root.remove(victim)
            try state.update(victim, materialized: false, event: "remove", details: ["keep": String(keep)])
        }
        return victims
    }

    /// What a switching entry says about where it switched to, so `state --at` and proof bundles
    /// answer from that one entry (ActivationTimeline): the pair, its mount point and the env.
    static func switchDetails(_ deployment: Deployment?, env: String?, _ extra: [String: String]) -> [String: String] {
        var details = extra
        details["env"] = env ?? "-"
        if let deployment {
            details["release"] = deployment.release.description
            details["config"] = deployment.config?.description ?? "-"
            if let path = deployment.configPath { details["config_path"] = path }
        }
        return details
    }

    static func describe(_ run: HookRun) -> String {
        if run.timedOut { return "'\(run.command)' timed out after \(String(format: "%.1f", run.seconds)) s and was killed" }
        return "'\(run.command)' exited \(run.exitCode.map(String.init) ?? "?")"
    }
}

public enum RollbackTarget: Sendable {
    case deployment(Digest)
    case release(ReleaseID)
}
