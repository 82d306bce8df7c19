import FixityApp
import FixityCore
import FixityStore
import FixityTrust
import Foundation
import GRDB

/// What each host should run: the environment's desired state, except while a rollout runs —
/// then a host whose wave has started gets the rollout's release and the others keep the
/// previous one (docs/agent.md, "Rollouts").
extension LocalFleet {
    static func desiredRelease(_ db: Database, env: String, keyID: String) throws -> (release: String?, reason: String)
    {
        let rollout = try RunningRollout.read(db, env: env)
        let wave = try rollout.flatMap { rollout in
            try Int.fetchOne(
                db.cachedStatement(sql: "SELECT wave FROM rollout_hosts WHERE rollout_id = ? AND key_id = ?"),
                arguments: [rollout.id, keyID])
        }
        return try choose(
            env: env, rollout: rollout, wave: wave,
            desired: rollout == nil ? EnvironmentDesired.read(db, env: env) : nil)
    }

    /// The active (running or paused) rollout of an environment, if any.
    struct RunningRollout {
        let id: Int64
        let release: String
        let previous: String
        let wave: Int

        static func read(_ db: Database, env: String) throws -> RunningRollout? {
            try Row.fetchOne(
                db.cachedStatement(
                    sql:
                        "SELECT id, release, previous, wave FROM rollouts WHERE env = ? AND state IN \(RolloutState.activeSQL) ORDER BY id DESC LIMIT 1"
                ), arguments: [env]
            ).map { RunningRollout(id: $0["id"], release: $0["release"], previous: $0["previous"], wave: $0["wave"]) }
        }
    }

    /// An environment's newest desired state.
    struct EnvironmentDesired {
        let seq: Int64
        let release: String

        static func read(_ db: Database, env: String) throws -> EnvironmentDesired? {
            try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT seq, release FROM desired_states WHERE env = ? ORDER BY seq DESC LIMIT 1"),
                arguments: [env]
            ).map { EnvironmentDesired(seq: $0["seq"], release: $0["release"]) }
        }
    }

    /// What a host runs: its wave's release while a rollout runs (the previous one before its
    /// wave starts), else the environment's desired state.
    static func choose(env: String, rollout: RunningRollout?, wave: Int?, desired: EnvironmentDesired?) -> (
        release: String?, reason: String
    ) {
        if let rollout {
            if let wave, wave <= rollout.wave {
                return (rollout.release, "rollout #\(rollout.id), wave \(wave + 1)")
            }
            return (
                rollout.previous,
                wave.map { "rollout #\(rollout.id): waiting for wave \($0 + 1)" }
                    ?? "rollout #\(rollout.id): enrolled after it began"
            )
        }
        guard let desired else { return (nil, "no desired state for \(env) yet") }
        return (desired.release, "desired state #\(desired.seq)")
    }

    func desired(for host: HostRecord) async throws -> AgentDesired {
        try await BlockingWork.run { [store] in
            try store.ensureSchema(ControlPlaneSchema.part)
            try store.ensureSchema(FleetSchema.part)
            try store.ensureSchema(AccessSchema.part)
            let now = store.clock.now()
            let (release, reason, policies, windows, execs) = try store.database.storeRead { db in
                let (release, reason) = try Self.desiredRelease(db, env: host.env, keyID: host.keyID.hex)
                let policies = try String.fetchAll(db, sql: "SELECT envelope FROM signed_policies ORDER BY policy_seq")
                let (windows, execs) = try Self.agentAccess(db, keyID: host.keyID.hex, now: now)
                return (release, reason, policies, windows, execs)
            }
            var envelopes = [String]()
            var knownGood = [String]()
            if let release, let id = Digest(parsing: release).map(ReleaseID.init) {
                envelopes = try store.envelopes(about: id).map {
                    String(decoding: $0.envelope.jsonBytes(), as: UTF8.self)
                }
                knownGood = try KnownGood.environments(store: store, release: id, config: nil).sorted()
            }
            // The tag names everything the agent acts on: a new policy, a new signature or a
            // new known-good environment wakes the poll as a new release does.
            var named = [UInt8]()
            for part in [release ?? "-", reason] + policies + envelopes + knownGood {
                named += Array(part.utf8) + [0]
            }
            // A window opening or ending, and a command waiting, wake the poll too.
            named += JSONStyle.compact.bytes(windows) + [0] + JSONStyle.compact.bytes(execs)
            return AgentDesired(
                host: host.name, env: host.env, tag: Digest.of(named).description, release: release, reason: reason,
                policies: policies, envelopes: envelopes, knownGoodIn: knownGood, windows: windows, execs: execs)
        }
    }
}
