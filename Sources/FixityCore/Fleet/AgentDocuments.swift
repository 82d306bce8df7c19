/// The documents an agent and its server exchange (docs/agent.md). The server's answers are
/// claims the agent checks for itself — every policy against its pinned root, the release
/// against that policy, every blob against its digest; the agent's reports travel in requests
/// the host signs, so the server keeps them as evidence of what the host said.

/// `POST /v1/hosts`: a host asking to join an environment (sent with an API key scoped
/// `host:enroll:ENV`).
public struct HostEnrollment: Codable, Sendable, Equatable {
    public let name: String
    public let env: String
    /// `ed25519:<base64>`.
    public let publicKey: String

    public init(name: String, env: String, publicKey: String) {
        self.name = name
        self.env = env
        self.publicKey = publicKey
    }

    enum CodingKeys: String, CodingKey { case name, env, publicKey = "public_key" }
}

/// A host as the server knows it (enrollment and latest report).
public struct HostView: Codable, Sendable, Equatable {
    public let name: String
    public let env: String
    public let keyID: String
    public let enrolledAt: String
    public let revokedAt: String?
    /// converged, deploying, failed, drifted, offline, enrolled (never reported), revoked.
    public let state: String
    public let release: String?
    public let deployment: String?
    /// What the server wants this host to run now.
    public let desired: String?
    public let lastReportAt: String?
    public let lastSeenAt: String?
    /// Paths of the open drift (bounded; empty when clean).
    public let drift: [String]
    public let detail: String?

    public init(
        name: String, env: String, keyID: String, enrolledAt: String, revokedAt: String?, state: String,
        release: String?, deployment: String?, desired: String?, lastReportAt: String?, lastSeenAt: String?,
        drift: [String], detail: String?
    ) {
        self.name = name
        self.env = env
        self.keyID = keyID
        self.enrolledAt = enrolledAt
        self.revokedAt = revokedAt
        self.state = state
        self.release = release
        self.deployment = deployment
        self.desired = desired
        self.lastReportAt = lastReportAt
        self.lastSeenAt = lastSeenAt
        self.drift = drift
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case name, env, keyID = "key_id", enrolledAt = "enrolled_at", revokedAt = "revoked_at", state, release
        case deployment, desired, lastReportAt = "last_report_at", lastSeenAt = "last_seen_at", drift, detail
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(env, forKey: .env)
        try c.encode(keyID, forKey: .keyID)
        try c.encode(enrolledAt, forKey: .enrolledAt)
        try c.encode(revokedAt, forKey: .revokedAt)
        try c.encode(state, forKey: .state)
        try c.encode(release, forKey: .release)
        try c.encode(deployment, forKey: .deployment)
        try c.encode(desired, forKey: .desired)
        try c.encode(lastReportAt, forKey: .lastReportAt)
        try c.encode(lastSeenAt, forKey: .lastSeenAt)
        try c.encode(drift, forKey: .drift)
        try c.encode(detail, forKey: .detail)
    }
}

/// `GET /v1/agent/desired`: what the server wants this host to run, with everything the agent
/// needs to decide for itself whether it may.
public struct AgentDesired: Codable, Sendable, Equatable {
    public let host: String
    public let env: String
    /// Names this answer; the agent sends it back (`?tag=`) and the server holds the poll until
    /// its answer differs.
    public let tag: String
    /// Nil: the environment has no desired state yet (the host keeps what it runs).
    public let release: String?
    /// Why this release, for the host's log: a promotion, a rollout wave, a halted rollout.
    public let reason: String
    /// Every signed policy the server accepted, oldest first (DSSE envelopes as JSON text): the
    /// agent walks them from its pinned root, each signed by the root in force before it.
    public let policies: [String]
    /// The DSSE envelopes about the release (signatures, provenance, test results).
    public let envelopes: [String]
    /// Environments where the server's hosts reported the release healthy — the server's claim,
    /// used for `require_known_good_in` (docs/agent.md says why the agent cannot check it).
    public let knownGoodIn: [String]
    /// Access windows onto this host: open ones, and ended ones it has not reported on yet.
    public let windows: [AgentWindow]
    /// Commands waiting for this host under those windows.
    public let execs: [ExecOrder]

    public init(
        host: String, env: String, tag: String, release: String?, reason: String, policies: [String],
        envelopes: [String], knownGoodIn: [String], windows: [AgentWindow] = [], execs: [ExecOrder] = []
    ) {
        self.windows = windows
        self.execs = execs
        self.host = host
        self.env = env
        self.tag = tag
        self.release = release
        self.reason = reason
        self.policies = policies
        self.envelopes = envelopes
        self.knownGoodIn = knownGoodIn
    }

    enum CodingKeys: String, CodingKey {
        case host, env, tag, release, reason, policies, envelopes, knownGoodIn = "known_good_in", windows, execs
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(host, forKey: .host)
        try c.encode(env, forKey: .env)
        try c.encode(tag, forKey: .tag)
        try c.encode(release, forKey: .release)
        try c.encode(reason, forKey: .reason)
        try c.encode(policies, forKey: .policies)
        try c.encode(envelopes, forKey: .envelopes)
        try c.encode(knownGoodIn, forKey: .knownGoodIn)
        try c.encode(windows, forKey: .windows)
        try c.encode(execs, forKey: .execs)
    }
}

/// What happened on a host, as it tells its server (`POST /v1/agent/reports`, signed).
public enum AgentEvent: String, Codable, Sendable, CaseIterable {
    /// A deployment became active and passed its health check (or has none).
    case deployed
    /// A deployment failed its health check and the previous one is back.
    case rolledBack = "rolled_back"
    /// A desired state was refused (policy, signature, bad input); the host keeps what it ran.
    case refused
    /// The live tree left its manifest (or came back to it).
    case drift
    /// Drift was undone by repair, under `drift = "repair"`.
    case repaired
    /// Nothing changed: the host is alive and runs what it says (sent once per poll interval).
    case status
    /// An access window onto the host ended: what it left (`changes`, before/after) and what
    /// the host did about it (`outcome`: clean, reverted, proposed, failed).
    case windowClosed = "window_closed"
}

/// A health check as a report carries it.
public struct ReportedHealth: Codable, Sendable, Equatable {
    /// pass, fail, "no health check", interrupted.
    public let result: String
    public let command: String?
    public let exitCode: Int?
    public let seconds: Double
    /// The last lines of its output (bounded).
    public let outputTail: String
    /// Whether this pass counts toward known-good (the release's own check, on a bound host).
    public let counts: Bool

    public init(result: String, command: String?, exitCode: Int?, seconds: Double, outputTail: String, counts: Bool) {
        self.result = result
        self.command = command
        self.exitCode = exitCode
        self.seconds = seconds
        self.outputTail = outputTail
        self.counts = counts
    }

    enum CodingKeys: String, CodingKey {
        case result, command, exitCode = "exit_code", seconds, outputTail = "output_tail", counts
    }
}

/// One path a drift check found changed.
public struct ReportedChange: Codable, Sendable, Equatable {
    public let path: String
    /// modified, added, missing, type, mode, …
    public let kind: String
    public let expected: String?
    public let found: String?

    public init(path: String, kind: String, expected: String?, found: String?) {
        self.path = path
        self.kind = kind
        self.expected = expected
        self.found = found
    }
}

/// What a repair kept as evidence, as a report carries it: the entry's stat data and, for a
/// small file, its bytes — so the server holds the evidence, not only the host.
public struct ReportedEvidence: Codable, Sendable, Equatable {
    public static let maximumContent = 64 * 1024
    public static let maximumTotal = 512 * 1024

    public let path: String
    public let kind: String
    public let digest: String?
    public let size: Int64
    public let mode: String
    public let target: String?
    /// Why it was not kept whole (over a cap), when it was not.
    public let note: String?
    /// The bytes, base64, for a regular file of at most `maximumContent` bytes (while the
    /// report's total stays under `maximumTotal`).
    public let content: String?

    public init(
        path: String, kind: String, digest: String?, size: Int64, mode: String, target: String?, note: String?,
        content: String?
    ) {
        self.path = path
        self.kind = kind
        self.digest = digest
        self.size = size
        self.mode = mode
        self.target = target
        self.note = note
        self.content = content
    }
}

/// A report body. `seq` is the host's own counter: the server refuses one not above the last
/// it accepted, so a captured report cannot be played again.
public struct AgentReport: Codable, Sendable, Equatable {
    public static let maximumChanges = 200
    public static let maximumText = 16 * 1024

    public let seq: Int64
    public let event: AgentEvent
    /// When it happened on the host (RFC 3339).
    public let time: String
    /// The desired answer acted on.
    public let tag: String?
    /// What the host runs now (nil: nothing deployed).
    public let release: String?
    public let deployment: String?
    /// The release it tried (rolled_back, refused).
    public let attempted: String?
    public let health: ReportedHealth?
    /// `clean` or `drifted` (drift, repaired).
    public let driftState: String?
    public let changes: [ReportedChange]
    /// Changed paths in all (the list is bounded).
    public let changeCount: Int
    /// The evidence folder kept on the host (repaired).
    public let evidence: String?
    /// What that evidence holds (repaired).
    public let evidenceFiles: [ReportedEvidence]?
    /// Why a desired state was refused.
    public let reason: String?
    /// The agent's poll interval: three without a word and the server calls it offline.
    public let intervalSeconds: Int
    /// The access window a drift was made under, or that ended (window_closed).
    public let window: Int64?
    /// window_closed: clean, reverted, proposed or failed.
    public let outcome: String?
    /// window_closed under `after = "propose"`: the release sealed from the changed tree.
    public let proposal: String?

    public init(
        seq: Int64, event: AgentEvent, time: String, tag: String?, release: String?, deployment: String?,
        attempted: String? = nil, health: ReportedHealth? = nil, driftState: String? = nil,
        changes: [ReportedChange] = [], changeCount: Int = 0, evidence: String? = nil,
        evidenceFiles: [ReportedEvidence]? = nil, reason: String? = nil, intervalSeconds: Int, window: Int64? = nil,
        outcome: String? = nil, proposal: String? = nil
    ) {
        self.window = window
        self.outcome = outcome
        self.proposal = proposal
        self.evidenceFiles = evidenceFiles
        self.seq = seq
        self.event = event
        self.time = time
        self.tag = tag
        self.release = release
        self.deployment = deployment
        self.attempted = attempted
        self.health = health
        self.driftState = driftState
        self.changes = changes
        self.changeCount = changeCount
        self.evidence = evidence
        self.reason = reason
        self.intervalSeconds = intervalSeconds
    }

    enum CodingKeys: String, CodingKey {
        case seq, event, time, tag, release, deployment, attempted, health, driftState = "drift_state", changes
        case changeCount = "change_count", evidence, evidenceFiles = "evidence_files", reason
        case intervalSeconds = "interval_seconds", window, outcome, proposal
    }

    /// Bounds and shapes a server holds every report to; the message names the field.
    public func validate() throws(TrustError) {
        guard seq > 0 else { throw TrustError("report seq must be positive") }
        guard Instant(rfc3339: time) != nil else {
            throw TrustError("report time '\(time.prefix(40))' is not RFC 3339")
        }
        for (field, value) in [("release", release), ("attempted", attempted), ("proposal", proposal)] {
            if let value, Digest(parsing: value) == nil {
                throw TrustError("report \(field) '\(value.prefix(80))' is not sha256:<hex>")
            }
        }
        if let deployment, Digest(parsing: deployment) == nil {
            throw TrustError("report deployment '\(deployment.prefix(80))' is not sha256:<hex>")
        }
        guard changes.count <= Self.maximumChanges else {
            throw TrustError("report lists \(changes.count) changes; at most \(Self.maximumChanges)")
        }
        guard (1...86_400).contains(intervalSeconds) else {
            throw TrustError("report interval_seconds must be 1-86400")
        }
        let texts = [tag, evidence, reason, health?.outputTail, health?.command] + changes.map(\.path)
        for case let text? in texts where text.utf8.count > Self.maximumText {
            throw TrustError("report field over \(Self.maximumText) bytes")
        }
        let kept = evidenceFiles ?? []
        guard kept.count <= Self.maximumChanges else {
            throw TrustError("report lists \(kept.count) evidence files; at most \(Self.maximumChanges)")
        }
        let bytes = kept.reduce(0) { $0 + ($1.content?.utf8.count ?? 0) }
        guard bytes <= ReportedEvidence.maximumTotal * 4 / 3 + 4 * kept.count else {
            throw TrustError(
                "report evidence carries \(bytes) bytes of content; at most \(ReportedEvidence.maximumTotal) before base64"
            )
        }
        if let outcome, !["clean", "reverted", "proposed", "failed"].contains(outcome) {
            throw TrustError("report outcome must be clean, reverted, proposed or failed")
        }
        if event == .windowClosed, window == nil || outcome == nil {
            throw TrustError("a window_closed report names its window and outcome")
        }
        if let window, window <= 0 { throw TrustError("report window must be positive") }
        if let driftState, driftState != "clean" && driftState != "drifted" {
            throw TrustError("report drift_state must be clean or drifted")
        }
    }
}
