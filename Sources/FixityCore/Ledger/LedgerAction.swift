/// The ledger's vocabulary: what an entry records. Written and read through these cases only —
/// the raw values are the `action` strings of the entry encoding (docs/ledger.md), so they can
/// never be renamed. An entry whose action is not one of these (written by a newer Fixity) is
/// still verified and kept; `LedgerEntry.kind` is nil for it.
public enum LedgerAction: String, Sendable, CaseIterable, Codable {
    // The store's catalog and trust.
    case seal
    case tag
    case sign
    case attest
    case policy
    case gc
    case adopt
    case ociImport = "oci-import"
    case ociExport = "oci-export"
    case ociPush = "oci-push"
    // A root: its binding and its deployments' lives.
    /// A root bound to its environment at its first deploy with `--env`.
    case bind
    /// What a deployment is: release, config, environment, hooks.
    case deploy
    case materialize
    case activate
    case health
    case rollback
    case deactivate
    case remove
    // A root's tree.
    case drift
    case repair
    // A server's API keys (never the key itself: its id, name, scopes, expiry).
    case keyCreate = "key-create"
    case keyRevoke = "key-revoke"
    case keyRotate = "key-rotate"
    // A server's API (`fixity serve`): what keys did and were refused; releases that arrived.
    /// A mutating request's outcome: the key's id (subject), method, route template, status.
    case apiRequest = "api-request"
    /// A refused request (no key, unknown, expired, revoked, out of scope): why, and from where.
    case apiRefused = "api-refused"
    /// Blobs received in one pack: counts and bytes, and the key that sent them.
    case blobsReceive = "blobs-receive"
    /// A release admitted from a push (after its manifest and blobs checked out), and its key.
    case receive
    /// A release taken into a local store from a server (`fixity pull`).
    case pull
    /// An environment's desired state set by a promotion the policy allowed: env, key, policy.
    case promote
    /// A promotion the policy refused: env, key, policy and the reason.
    case promoteRefused = "promote-refused"
    // A fleet (docs/agent.md): hosts, what they said, what the server refused of them, rollouts.
    /// A host enrolled into an environment: its name (subject), env, key id, the enrolling key.
    case hostEnroll = "host-enroll"
    case hostRevoke = "host-revoke"
    /// A host's signed report of a state change: event, release, deployment, health, drift.
    case hostReport = "host-report"
    /// A host request refused: unsigned, stale, replayed, a bad signature, a revoked host.
    case hostRefused = "host-refused"
    /// On a host: a desired state the agent refused (policy, signature, bad input) and why.
    case agentRefused = "agent-refused"
    /// A phased rollout began: env, release, previous release, waves, bake, max failed.
    case rolloutStart = "rollout-start"
    /// A wave started or completed (details: rollout, wave, event, hosts).
    case rolloutWave = "rollout-wave"
    /// A wave had more failed hosts than allowed: the rollout stops.
    case rolloutHalt = "rollout-halt"
    /// After a halt, the hosts already moved are set back to the previous release.
    case rolloutRollback = "rollout-rollback"
    case rolloutComplete = "rollout-complete"
    /// An operator held a rollout where it stood (no wave starts; hosts keep what they run).
    case rolloutPause = "rollout-pause"
    /// A paused rollout goes on.
    case rolloutResume = "rollout-resume"
    /// An operator stopped a rollout: the environment back to its previous release.
    case rolloutAbort = "rollout-abort"
    // Access windows (docs/access.md): who asked, who approved, what ran, what it left.
    /// A window asked for: env (detail), hosts, reason, TTL, the requesting key (subject: window id).
    case accessRequest = "access-request"
    case accessApprove = "access-approve"
    case accessDeny = "access-deny"
    /// The window reached its approvals: open until `expires_at`.
    case accessOpen = "access-open"
    /// A command ran on a host under a window: argv, who, exit code, the digests of its output.
    case accessExec = "access-exec"
    /// A command refused before it reached a host (no open window, denied pattern, not the
    /// requester), or by the host itself.
    case accessExecRefused = "access-exec-refused"
    /// A window ended: closed by a key, expired, or denied before it opened.
    case accessClose = "access-close"
    /// What a window left on one host: every changed path (before/after digests) and what the
    /// host did about it (reverted, proposed as a release).
    case accessChanges = "access-changes"
    /// Synthetic entries written only by `fixity bench-ledger`.
    case bench

    /// Entries that switch what a root runs (`state --at` follows these).
    public static let switching: Set<LedgerAction> = [.activate, .rollback, .deactivate]
    /// Entries that say what a deployment is, written before it is switched to.
    public static let describing: Set<LedgerAction> = [.deploy]
    /// Entries about the state of a root's live tree.
    public static let treeState: Set<LedgerAction> = [.drift, .repair, .health]
    /// Entries about a root and its deployments (checked against the roots' tables).
    public static let rootLifecycle: Set<LedgerAction> = [
        .deploy, .materialize, .activate, .health, .rollback, .deactivate, .remove, .drift, .repair,
    ]
}

extension LedgerEntry {
    /// The entry's action as a type; nil for an action this version does not know.
    public var kind: LedgerAction? { LedgerAction(rawValue: action) }

    /// A detail that may be absent: nil when missing or recorded as `LedgerDetail.absent`.
    public func optionalDetail(_ key: String) -> String? {
        details[key].flatMap { $0 == LedgerDetail.absent ? nil : $0 }
    }
}

/// How details spell what they carry.
public enum LedgerDetail {
    /// A detail recorded with no value (a deployment without a config, a root without an
    /// environment). Entries have always spelled it `-`; readers use `optionalDetail`.
    public static let absent = "-"

    /// `value`, or `absent` when there is none.
    public static func optional(_ value: String?) -> String { value ?? absent }

    /// `true`/`false`, as every boolean detail is spelled.
    public static func flag(_ value: Bool) -> String { value ? "true" : "false" }
}

/// The `result` detail of a `health` entry.
public enum HealthResult: String, Sendable, CaseIterable {
    case pass
    case fail
    /// Activated without a health check: known-good by the absence of a check.
    case noCheck = "no health check"
    /// A stop signal arrived during the check: the deployment stays pending.
    case interrupted
}

/// The `state` detail of `drift` and `adopt` entries: `clean`, or the digest of the drift report.
public enum DriftStateDetail: Sendable, Equatable {
    case clean
    case drifted(Digest)

    public static let cleanText = "clean"

    public init?(_ text: String) {
        if text == Self.cleanText {
            self = .clean
        } else if let digest = Digest(parsing: text) {
            self = .drifted(digest)
        } else {
            return nil
        }
    }

    public var text: String {
        switch self {
        case .clean: Self.cleanText
        case .drifted(let digest): digest.description
        }
    }
}
