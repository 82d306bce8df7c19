import FixityApp
import FixityCore
import FixityStore
import FixityTrust
import Foundation
import GRDB

/// Policies and environments in the embedded store: the signed policy beside the store's own
/// policy row (one transaction), desired states as an append-only table, promotions judged by
/// the same `PolicyGate` a local `deploy --env` uses.
extension LocalControlPlane {
    func setPolicy(envelope bytes: [UInt8], keyID: String) async throws -> PolicyRecord {
        try await BlockingWork.run { [store] in
            try store.ensureSchema(ControlPlaneSchema.part)
            let (envelope, text) = try SignedPolicy.unwrap(bytes, source: "the policy envelope")
            let policy = try PolicyFile.parse(text, name: "uploaded")
            return try store.database.storeWrite { db in
                // Read and replaced in one write transaction: two policies sent at once cannot
                // both be judged against the same predecessor.
                let current = try Self.signedPolicy(db, store: store)
                try SignedPolicy.admit(
                    envelope, policy: policy,
                    current: try current.map { try $0.policy() })
                let root = policy.root!
                let stored = try store.setPolicy(
                    db, text: text,
                    summary: [
                        "key": keyID, "root_threshold": String(root.threshold),
                        "root_keys": root.keys.map(\.id.short).joined(separator: ","),
                        "signers": root.signers(of: envelope).sorted().map(\.short).joined(separator: ","),
                    ])
                let json = String(decoding: envelope.jsonBytes(), as: UTF8.self)
                try db.execute(
                    sql: "INSERT INTO signed_policies (policy_seq, digest, envelope, key_id) VALUES (?, ?, ?, ?)",
                    arguments: [stored.seq, stored.digest.description, json, keyID])
                return PolicyRecord(digest: stored.digest, seq: stored.seq, setAt: stored.setAt, envelope: json)
            }
        }
    }

    func currentPolicy() async throws -> PolicyRecord? {
        try await BlockingWork.run { [store] in
            try store.ensureSchema(ControlPlaneSchema.part)
            return try store.database.storeRead { db in try Self.signedPolicy(db, store: store) }
        }
    }

    func promote(_ ref: Ref, env: String, keyID: String, rollout: RolloutPlan?) async throws -> DesiredState {
        try await BlockingWork.run { [self] in
            try store.ensureSchema(ControlPlaneSchema.part)
            try store.ensureSchema(FleetSchema.part)
            let release = try store.resolve(ref)
            // The judgement reads the policy before the write transaction (the evaluator reads the
            // store on its own); a policy set in between would leave this promotion recorded
            // under a policy no longer in force. The write checks the policy is still the one
            // judged by, and the promotion is judged again if it is not.
            for _ in 0..<3 {
                if let desired = try promoteOnce(release, env: env, keyID: keyID, rollout: rollout) { return desired }
            }
            throw StoreError(
                .conflict, "the policy changed three times while \(env)'s promotion was judged; promote again")
        }
    }

    /// Nil when the policy in force changed between the judgement and the write.
    private func promoteOnce(_ release: ReleaseID, env: String, keyID: String, rollout: RolloutPlan?) throws
        -> DesiredState?
    {
        let signed = try store.database.storeRead { db in try Self.signedPolicy(db, store: store) }
        guard let signed else {
            throw try refuse(
                env: env, release: release, keyID: keyID, policy: nil,
                "the server has no policy: promotions need one (fixity policy set FILE --server URL --sign KEY)")
        }
        let (decision, digest) = try PolicyGate(store: store).check(env: env, release: release, config: nil)
        guard digest == signed.digest else {
            throw try refuse(
                env: env, release: release, keyID: keyID, policy: digest,
                "the policy in force (\(digest?.short ?? "-")) is not the signed one (\(signed.digest.short)): it was set around the server; set it again through the server"
            )
        }
        guard decision.governed else {
            throw try refuse(
                env: env, release: release, keyID: keyID, policy: digest,
                "policy \(signed.digest.short) defines no environment '\(env)'")
        }
        guard decision.allowed else {
            throw try refuse(
                env: env, release: release, keyID: keyID, policy: digest,
                "policy \(signed.digest.short) refuses \(env): " + decision.missing.joined(separator: "; "))
        }
        do {
            return try store.database.storeWrite { db -> DesiredState? in
                try promoteWrite(
                    db, release, env: env, keyID: keyID, signed: signed, decision: decision, rollout: rollout)
            }
        } catch let refused as PromotionRefused {
            throw try refuse(env: env, release: release, keyID: keyID, policy: digest, refused.message)
        }
    }

    /// The promotion's write: the desired state row, its entry, and the rollout when asked for.
    private func promoteWrite(
        _ db: Database, _ release: ReleaseID, env: String, keyID: String, signed: PolicyRecord,
        decision: Policy.Decision, rollout: RolloutPlan?
    ) throws -> DesiredState? {
        guard try Self.signedPolicy(db, store: store)?.digest == signed.digest else { return nil }
        let previous = try Self.desired(db, env: env)?.release
        let now = store.clock.timestamp()
        try db.execute(
            sql: "INSERT INTO desired_states (env, release, policy, key_id, set_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [env, release.description, signed.digest.description, keyID, now])
        let seq = db.lastInsertedRowID
        _ = try store.record(
            db, action: .promote, subject: release.description,
            details: [
                "env": env, "key": keyID, "policy": signed.digest.description, "desired_seq": String(seq),
                "signers": decision.signers.map(\.short).joined(separator: ","),
            ])
        if let rollout {
            _ = try LocalFleet.startRollout(
                db, store: store, env: env, release: release, previous: previous, plan: rollout, keyID: keyID)
        } else {
            // A promotion without waves stands for every host at once: a rollout still
            // running there is over.
            try db.execute(
                sql:
                    "UPDATE rollouts SET state = 'superseded', finished_at = ?, reason = ? WHERE env = ? AND state IN \(RolloutState.activeSQL)",
                arguments: [now, "superseded by desired state #\(seq)", env])
        }
        return DesiredState(
            env: env, release: release, seq: seq, policy: signed.digest, key: keyID, setAt: now)
    }

    func desiredState(env: String) async throws -> DesiredState? {
        try await BlockingWork.run { [store] in
            try store.ensureSchema(ControlPlaneSchema.part)
            return try store.database.storeRead { db in try Self.desired(db, env: env) }
        }
    }

    func environment(_ env: String) async throws -> EnvironmentView {
        try await BlockingWork.run { [store] in
            try store.ensureSchema(ControlPlaneSchema.part)
            let (desired, signed) = try store.database.storeRead { db in
                (try Self.desired(db, env: env), try Self.signedPolicy(db, store: store))
            }
            var rules: EnvironmentView.Rules?
            if let signed {
                let policy = try signed.policy()
                rules = policy.environments[env].map {
                    EnvironmentView.Rules(
                        trustedKeys: $0.trustedKeys, threshold: $0.threshold,
                        requireKnownGoodIn: $0.requireKnownGoodIn, requireTests: $0.requireTests)
                }
            }
            return EnvironmentView(
                env: env, desired: desired, policy: signed?.digest, defined: rules != nil, rules: rules)
        }
    }

    /// Records a refused promotion and returns the error that says why.
    private func refuse(env: String, release: ReleaseID, keyID: String, policy: Digest?, _ reason: String) throws
        -> PromotionRefused
    {
        try store.database.storeWrite { db in
            _ = try store.record(
                db, action: .promoteRefused, subject: release.description,
                details: [
                    "env": env, "key": keyID, "policy": policy?.description ?? LedgerDetail.absent, "reason": reason,
                ])
        }
        return PromotionRefused(message: reason)
    }

    static func signedPolicy(_ db: Database, store: Store) throws -> PolicyRecord? {
        guard
            let row = try Row.fetchOne(
                db,
                sql:
                    "SELECT s.*, p.set_at FROM signed_policies s JOIN policies p ON p.seq = s.policy_seq ORDER BY s.policy_seq DESC LIMIT 1"
            )
        else { return nil }
        guard let digest = Digest(parsing: row["digest"] as String) else {
            throw StoreError(.integrity, "signed_policies row \(row["policy_seq"] as Int64) has a bad digest")
        }
        let record = PolicyRecord(
            digest: digest, seq: row["policy_seq"], setAt: row["set_at"], envelope: row["envelope"])
        // The envelope must still carry the text the digest names (a row edited in place is refused).
        guard Digest.of(Array(try record.text().utf8)) == digest else {
            throw StoreError(.integrity, "signed policy \(digest.short): its envelope no longer carries that policy")
        }
        return record
    }

    static func desired(_ db: Database, env: String) throws -> DesiredState? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM desired_states WHERE env = ? ORDER BY seq DESC LIMIT 1"),
                arguments: [env])
        else { return nil }
        guard let release = Digest(parsing: row["release"] as String),
            let policy = Digest(parsing: row["policy"] as String)
        else { throw StoreError(.integrity, "desired_states row \(row["seq"] as Int64) is malformed") }
        return DesiredState(
            env: env, release: ReleaseID(release), seq: row["seq"], policy: policy, key: row["key_id"],
            setAt: row["set_at"])
    }
}
