import FixityAccess
import FixityCore
import Foundation

/// A host as the gate needs it: who signs with which key, in which environment, revoked or not.
struct HostRecord: Sendable, Equatable {
    let name: String
    let env: String
    let keyID: KeyID
    let publicKey: PublicKey
    let revokedAt: String?
    /// In a window whose changes it must seal and upload (`after = "propose"`): the push routes
    /// open to it until it reported the window's end.
    var mayPropose = false
}

/// A signed report as it arrived: the parsed body, and the exact bytes and headers the host
/// signed (kept as evidence).
struct ArrivedReport: Sendable {
    let report: AgentReport
    let body: String
    let signatureInput: String
    let signature: String
}

/// A host as the dashboard shows it: what it is now, and what it said lately.
package struct HostHistory: Sendable, Codable {
    package struct Received: Sendable, Codable {
        package let receivedAt: String
        package let report: AgentReport
        enum CodingKeys: String, CodingKey { case receivedAt = "received_at", report }
    }
    package let host: HostView
    package let reports: [Received]
}

/// A phased rollout asked for with a promotion (`promote --waves`).
package struct RolloutPlan: Sendable, Codable, Equatable {
    /// Cumulative percentages of the environment's hosts, increasing, the last 100.
    package let waves: [Int]
    package let bakeSeconds: Int
    package let maxFailed: Int

    package init(waves: [Int], bakeSeconds: Int, maxFailed: Int) throws(AccessError) {
        guard !waves.isEmpty, waves.count <= 21 else {
            throw AccessError(.badInput, "waves: give 1 to 20 percentages, e.g. 5%,25%,100%")
        }
        guard zip(waves, waves.dropFirst()).allSatisfy({ $0 < $1 }), waves.allSatisfy({ (1...100).contains($0) })
        else { throw AccessError(.badInput, "waves must increase, each 1-100% (got \(waves.map { "\($0)%" }))") }
        guard waves.last == 100 else {
            throw AccessError(.badInput, "the last wave must be 100% (got \(waves.last!)%)")
        }
        guard (0...86_400).contains(bakeSeconds) else { throw AccessError(.badInput, "bake must be 0 s to 24 h") }
        guard (0...100_000).contains(maxFailed) else {
            throw AccessError(.badInput, "max-failed must be 0 to 100000 (got \(maxFailed))")
        }
        self.waves = waves
        self.bakeSeconds = bakeSeconds
        self.maxFailed = maxFailed
    }

    enum CodingKeys: String, CodingKey { case waves, bakeSeconds = "bake_seconds", maxFailed = "max_failed" }

    /// Over the API the shares are taken as a set: sorted, each once, and 100% added when the
    /// last is short of it (every host is in some wave). The CLI is stricter (`--waves`).
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var shares = Array(Set(try c.decode([Int].self, forKey: .waves))).sorted()
        if let last = shares.last, last < 100 { shares.append(100) }
        try self.init(
            waves: shares, bakeSeconds: try c.decode(Int.self, forKey: .bakeSeconds),
            maxFailed: try c.decode(Int.self, forKey: .maxFailed))
    }

    /// How many of `count` hosts have moved once wave `index` started (at least one per wave
    /// while hosts remain: 5% of 3 hosts is one host, not none).
    func cumulative(_ index: Int, of count: Int) -> Int {
        let share = (waves[index] * count + 99) / 100
        return min(count, max(share, index + 1))
    }
}

/// `GET /v1/rollouts/{env}`: the newest rollout of an environment, its waves and hosts.
package struct RolloutView: Sendable, Codable, Equatable {
    package struct Host: Sendable, Codable, Equatable {
        package let name: String
        package let wave: Int
        /// waiting (its wave has not started), pending, healthy, failed, rolled_back.
        package let state: String
        package let updatedAt: String?
        enum CodingKeys: String, CodingKey { case name, wave, state, updatedAt = "updated_at" }
    }
    package let id: Int64
    package let env: String
    package let release: String
    package let previous: String
    package let waves: [Int]
    package let bakeSeconds: Int
    package let maxFailed: Int
    /// running, completed, halted.
    package let state: String
    /// The current (or last) wave, from 0.
    package let wave: Int
    package let startedAt: String
    package let waveStartedAt: String
    package let waveCompletedAt: String?
    package let finishedAt: String?
    package let reason: String?
    package let hosts: [Host]

    enum CodingKeys: String, CodingKey {
        case id, env, release, previous, waves, bakeSeconds = "bake_seconds", maxFailed = "max_failed", state, wave
        case startedAt = "started_at", waveStartedAt = "wave_started_at", waveCompletedAt = "wave_completed_at"
        case finishedAt = "finished_at", reason, hosts
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(env, forKey: .env)
        try c.encode(release, forKey: .release)
        try c.encode(previous, forKey: .previous)
        try c.encode(waves, forKey: .waves)
        try c.encode(bakeSeconds, forKey: .bakeSeconds)
        try c.encode(maxFailed, forKey: .maxFailed)
        try c.encode(state, forKey: .state)
        try c.encode(wave, forKey: .wave)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(waveStartedAt, forKey: .waveStartedAt)
        try c.encode(waveCompletedAt, forKey: .waveCompletedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(reason, forKey: .reason)
        try c.encode(hosts, forKey: .hosts)
    }
}

/// What the server keeps about hosts and rollouts, behind a protocol as `ControlPlane` is.
protocol Fleet: Sendable {
    func enroll(_ enrollment: HostEnrollment, keyID: String) async throws -> HostView
    func host(keyID: KeyID) async throws -> HostRecord?
    func revokeHost(_ name: String, keyID: String) async throws -> HostView
    func hosts(env: String?) async throws -> [HostView]
    /// A host request the gate refused (the ledger's `host-refused`).
    func recordRefusal(host: String, reason: String, route: String, address: String) async throws
    /// Accepts a report (its seq above the last), updates the host and any rollout it is in.
    func accept(_ arrived: ArrivedReport, from host: HostRecord) async throws
    /// What `host` should run now, with the policies and envelopes it checks for itself.
    func desired(for host: HostRecord) async throws -> AgentDesired
    func rollout(env: String) async throws -> RolloutView?
    /// Pause, resume or abort the environment's newest rollout (`LocalFleet+RolloutControl`).
    func controlRollout(env: String, _ control: RolloutControl, reason: String?, keyID: String) async throws
        -> RolloutView
    /// A host and its newest `limit` signed reports, newest first (the dashboard's host page).
    func history(host name: String, limit: Int) async throws -> HostHistory
    /// Moves running rollouts on (waves done and baked, or too many failures); true if any moved.
    func advanceRollouts() async throws -> Bool

    // Access windows (docs/access.md).
    func requestWindow(_ request: AccessWindowRequest, by key: APIKeyRecord) async throws -> AccessWindowView
    func decide(window id: Int64, approve: Bool, reason: String?, by key: APIKeyRecord) async throws
        -> AccessWindowView
    func closeWindow(_ id: Int64, reason: String?, by key: APIKeyRecord) async throws -> AccessWindowView
    /// Ends expired windows and lapsed requests; true if any ended.
    func expireWindows() async throws -> Bool
    func windows(env: String?, openOnly: Bool) async throws -> [AccessWindowView]
    func window(_ id: Int64) async throws -> AccessWindowView
    func startExec(_ request: ExecRequest, by key: APIKeyRecord) async throws -> ExecView
    func exec(_ id: Int64, stdoutFrom: Int, stderrFrom: Int) async throws -> (view: ExecView, env: String)
    func acceptProgress(_ progress: ExecProgress, exec id: Int64, from host: HostRecord, arrived: SignedBody)
        async throws
}

/// The fleet is kept by the embedded control plane only so far; a PostgreSQL-backed server
/// answers every fleet route with this (501), never half an answer.
struct UnavailableFleet: Fleet {
    static var failure: APIFailure {
        APIFailure(
            .notImplemented, .refused,
            "hosts, agents, rollouts and access windows are kept by the embedded control plane only so far; this server runs on PostgreSQL (docs/agent.md, \"Not yet\")"
        )
    }
    func enroll(_ enrollment: HostEnrollment, keyID: String) async throws -> HostView { throw Self.failure }
    func host(keyID: KeyID) async throws -> HostRecord? { nil }
    func revokeHost(_ name: String, keyID: String) async throws -> HostView { throw Self.failure }
    // Reads answer 501 as writes do: an empty list would say "no hosts enrolled", which is not known here.
    func hosts(env: String?) async throws -> [HostView] { throw Self.failure }
    func recordRefusal(host: String, reason: String, route: String, address: String) async throws {}
    func accept(_ arrived: ArrivedReport, from host: HostRecord) async throws { throw Self.failure }
    func desired(for host: HostRecord) async throws -> AgentDesired { throw Self.failure }
    func rollout(env: String) async throws -> RolloutView? { throw Self.failure }
    func controlRollout(env: String, _ control: RolloutControl, reason: String?, keyID: String) async throws
        -> RolloutView
    { throw Self.failure }
    func history(host name: String, limit: Int) async throws -> HostHistory { throw Self.failure }
    func advanceRollouts() async throws -> Bool { false }
    func requestWindow(_ request: AccessWindowRequest, by key: APIKeyRecord) async throws -> AccessWindowView {
        throw Self.failure
    }
    func decide(window id: Int64, approve: Bool, reason: String?, by key: APIKeyRecord) async throws
        -> AccessWindowView
    { throw Self.failure }
    func closeWindow(_ id: Int64, reason: String?, by key: APIKeyRecord) async throws -> AccessWindowView {
        throw Self.failure
    }
    func expireWindows() async throws -> Bool { false }
    func windows(env: String?, openOnly: Bool) async throws -> [AccessWindowView] { throw Self.failure }
    func window(_ id: Int64) async throws -> AccessWindowView { throw Self.failure }
    func startExec(_ request: ExecRequest, by key: APIKeyRecord) async throws -> ExecView { throw Self.failure }
    func exec(_ id: Int64, stdoutFrom: Int, stderrFrom: Int) async throws -> (view: ExecView, env: String) {
        throw Self.failure
    }
    func acceptProgress(_ progress: ExecProgress, exec id: Int64, from host: HostRecord, arrived: SignedBody)
        async throws
    { throw Self.failure }
}
