import FixityCore
import FixityStore
import Foundation
import GRDB

/// Phased rollouts (docs/agent.md, "Rollouts"): the state machine the engine drives.
///
///     running(wave k) ── every host of wave k healthy (≤ max_failed failed) ──▶ wave k complete
///     wave k complete ── bake elapsed ──▶ running(wave k+1)  or, after the last wave, completed
///     running(wave k) ── more than max_failed failed in wave k ──▶ halted: every host back to
///                                                                 the previous release
///
/// Each transition is one write transaction with its ledger entry.
extension LocalFleet {
    /// Starts a rollout inside the promotion's transaction (the desired state row is written by
    /// the caller). Refused when the environment has no previous release to fall back to or a
    /// rollout is already running there.
    static func startRollout(
        _ db: Database, store: Store, env: String, release: ReleaseID, previous: ReleaseID?, plan: RolloutPlan,
        keyID: String
    ) throws -> Int64 {
        guard let previous else {
            throw PromotionRefused(
                message:
                    "\(env) has no desired state yet: a first release has nothing a halted rollout could return to; promote it without --waves"
            )
        }
        if let active = try Row.fetchOne(
            db, sql: "SELECT id, state FROM rollouts WHERE env = ? AND state IN \(RolloutState.activeSQL)",
            arguments: [env])
        {
            throw PromotionRefused(
                message:
                    "rollout #\(active["id"] as Int64) of \(env) is \(active["state"] as String); wait until it completes or halts, or end it (fixity rollout abort \(env))"
            )
        }
        let hosts = try Row.fetchAll(
            db, sql: "SELECT key_id, name FROM hosts WHERE env = ? AND revoked_at IS NULL ORDER BY name",
            arguments: [env])
        let now = store.clock.timestamp()
        try db.execute(
            sql: """
                INSERT INTO rollouts (env, release, previous, waves, bake_seconds, max_failed, state, wave,
                    started_at, wave_started_at, key_id)
                VALUES (?, ?, ?, ?, ?, ?, 'running', 0, ?, ?, ?)
                """,
            arguments: [
                env, release.description, previous.description,
                plan.waves.map(String.init).joined(separator: ","), plan.bakeSeconds, plan.maxFailed, now, now, keyID,
            ])
        let id = db.lastInsertedRowID
        for (index, host) in hosts.enumerated() {
            let wave = plan.waves.indices.first { index < plan.cumulative($0, of: hosts.count) } ?? plan.waves.count - 1
            try db.execute(
                sql: "INSERT INTO rollout_hosts (rollout_id, key_id, name, wave, state) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    id, host["key_id"] as String, host["name"] as String, wave, wave == 0 ? "pending" : "waiting",
                ])
        }
        try store.record(
            db, action: .rolloutStart, subject: release.description,
            details: [
                "env": env, "rollout": String(id), "previous": previous.description,
                "waves": plan.waves.map { "\($0)%" }.joined(separator: ","), "bake_seconds": String(plan.bakeSeconds),
                "max_failed": String(plan.maxFailed), "hosts": String(hosts.count), "key": keyID,
            ])
        try recordWave(db, store: store, rollout: id, env: env, wave: 0, event: "start")
        return id
    }

    static func recordWave(_ db: Database, store: Store, rollout: Int64, env: String, wave: Int, event: String) throws {
        let names = try String.fetchAll(
            db, sql: "SELECT name FROM rollout_hosts WHERE rollout_id = ? AND wave = ? ORDER BY name",
            arguments: [rollout, wave])
        try store.record(
            db, action: .rolloutWave, subject: String(rollout),
            details: [
                "env": env, "wave": String(wave + 1), "event": event, "hosts": names.joined(separator: ","),
            ])
    }

    func rollout(env: String) async throws -> RolloutView? {
        try await read { db in
            guard
                let id = try Int64.fetchOne(
                    db, sql: "SELECT id FROM rollouts WHERE env = ? ORDER BY id DESC LIMIT 1", arguments: [env])
            else { return nil }
            return try Self.rolloutView(db, id: id)
        }
    }

    static func rolloutView(_ db: Database, id: Int64) throws -> RolloutView {
        let row = try Row.fetchOne(db, sql: "SELECT * FROM rollouts WHERE id = ?", arguments: [id])!
        let hosts = try Row.fetchAll(
            db, sql: "SELECT name, wave, state, updated_at FROM rollout_hosts WHERE rollout_id = ? ORDER BY wave, name",
            arguments: [id]
        ).map { RolloutView.Host(name: $0["name"], wave: $0["wave"], state: $0["state"], updatedAt: $0["updated_at"]) }
        return RolloutView(
            id: id, env: row["env"], release: row["release"], previous: row["previous"],
            waves: (row["waves"] as String).split(separator: ",").compactMap { Int($0) },
            bakeSeconds: row["bake_seconds"], maxFailed: row["max_failed"], state: row["state"], wave: row["wave"],
            startedAt: row["started_at"], waveStartedAt: row["wave_started_at"],
            waveCompletedAt: row["wave_completed_at"], finishedAt: row["finished_at"], reason: row["reason"],
            hosts: hosts)
    }

    func advanceRollouts() async throws -> Bool {
        let running = try await read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM rollouts WHERE state = 'running' ORDER BY id")
        }
        var moved = false
        for id in running {
            if try await write({ [store] db in try Self.advance(db, store: store, id: id) }) { moved = true }
        }
        return moved
    }

    /// One step of rollout `id`'s state machine; true when it moved.
    static func advance(_ db: Database, store: Store, id: Int64) throws -> Bool {
        let view = try rolloutView(db, id: id)
        guard view.state == "running" else { return false }
        let wave = view.hosts.filter { $0.wave == view.wave }
        let failed = wave.filter { $0.state == "failed" }
        let now = store.clock.now()
        let stamp = Instant(now).description
        if failed.count > view.maxFailed {
            try halt(db, store: store, view: view, failed: failed.map(\.name), at: stamp)
            return true
        }
        guard wave.allSatisfy({ $0.state == "healthy" || $0.state == "failed" }) else { return false }
        guard let completed = view.waveCompletedAt else {
            try db.execute(sql: "UPDATE rollouts SET wave_completed_at = ? WHERE id = ?", arguments: [stamp, id])
            try recordWave(db, store: store, rollout: id, env: view.env, wave: view.wave, event: "complete")
            return true
        }
        guard let completedAt = Instant(rfc3339: completed)?.date,
            now.timeIntervalSince(completedAt) >= Double(view.bakeSeconds)
        else { return false }
        if view.wave + 1 >= view.waves.count {
            try db.execute(
                sql: "UPDATE rollouts SET state = 'completed', finished_at = ? WHERE id = ?", arguments: [stamp, id])
            try store.record(
                db, action: .rolloutComplete, subject: String(id),
                details: [
                    "env": view.env, "release": view.release,
                    "failed": view.hosts.filter { $0.state == "failed" }.map(\.name).joined(separator: ","),
                ])
            return true
        }
        try db.execute(
            sql: "UPDATE rollouts SET wave = wave + 1, wave_started_at = ?, wave_completed_at = NULL WHERE id = ?",
            arguments: [stamp, id])
        try db.execute(
            sql: "UPDATE rollout_hosts SET state = 'pending', updated_at = ? WHERE rollout_id = ? AND wave = ?",
            arguments: [stamp, id, view.wave + 1])
        try recordWave(db, store: store, rollout: id, env: view.env, wave: view.wave + 1, event: "start")
        return true
    }

    /// Stops the rollout and sets the environment back to the previous release.
    static func halt(_ db: Database, store: Store, view: RolloutView, failed: [String], at stamp: String) throws {
        let reason =
            "wave \(view.wave + 1): \(failed.count) host(s) failed (\(failed.joined(separator: ", "))), more than --max-failed \(view.maxFailed)"
        try db.execute(
            sql: "UPDATE rollouts SET state = 'halted', finished_at = ?, reason = ? WHERE id = ?",
            arguments: [stamp, reason, view.id])
        try store.record(
            db, action: .rolloutHalt, subject: String(view.id),
            details: ["env": view.env, "release": view.release, "wave": String(view.wave + 1), "reason": reason])
        try returnToPrevious(db, store: store, view: view, why: "halted", at: stamp)
    }

    /// Sets the environment back to the rollout's previous release: a desired state row and
    /// its `promote` entry (so `state --at` shows the return), then the rollback entry naming
    /// the hosts already moved.
    static func returnToPrevious(_ db: Database, store: Store, view: RolloutView, why: String, at stamp: String) throws
    {
        let policy =
            try String.fetchOne(
                db, sql: "SELECT digest FROM signed_policies ORDER BY policy_seq DESC LIMIT 1") ?? LedgerDetail.absent
        let key = "rollout:\(view.id)"
        try db.execute(
            sql: "INSERT INTO desired_states (env, release, policy, key_id, set_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [view.env, view.previous, policy, key, stamp])
        let seq = db.lastInsertedRowID
        try store.record(
            db, action: .promote, subject: view.previous,
            details: [
                "env": view.env, "key": key, "policy": policy, "desired_seq": String(seq),
                "signers": LedgerDetail.absent, "reason": "rollout #\(view.id) \(why)",
            ])
        let moved = view.hosts.filter { $0.wave <= view.wave }
        try db.execute(
            sql:
                "UPDATE rollout_hosts SET state = 'rolled_back', updated_at = ? WHERE rollout_id = ? AND wave <= ? AND state != 'failed'",
            arguments: [stamp, view.id, view.wave])
        try store.record(
            db, action: .rolloutRollback, subject: String(view.id),
            details: [
                "env": view.env, "from": view.release, "to": view.previous,
                "hosts": moved.map(\.name).joined(separator: ","),
            ])
    }
}
