import FixityCore
import FixityStore
import FixityTrust
import Foundation
import PostgresNIO

/// Signed policies, envelopes, desired states and promotions in PostgreSQL: the same checks
/// as the embedded plane (`SignedPolicy.admit`, `EnvelopeCheck`, `Policy.evaluate`), judged and
/// written in one transaction under the ledger's lock, so two replicas never both replace the
/// same policy or promote against a policy that changed in between.
extension PostgresControlPlane {
    func setPolicy(envelope bytes: [UInt8], keyID: String) async throws -> PolicyRecord {
        try await run {
            let (envelope, text) = try SignedPolicy.unwrap(bytes, source: "the policy envelope")
            let policy = try PolicyFile.parse(text, name: "uploaded")
            return try write { query in
                let current = try currentPolicy(query)
                try SignedPolicy.admit(envelope, policy: policy, current: current?.1)
                let seq = (current?.0.seq ?? -1) + 1
                let digest = Digest.of(Array(text.utf8))
                let json = String(decoding: envelope.jsonBytes(), as: UTF8.self)
                let now = Instant(clock.now()).description
                try query.rows(
                    """
                    INSERT INTO policies (seq, digest, text, envelope, key_id, set_at)
                    VALUES (\(seq), \(digest.description), \(text), \(json), \(keyID), \(now))
                    """)
                let root = policy.root!
                try record(
                    query, .policy, subject: digest.description,
                    details: [
                        "key": keyID, "policy_seq": String(seq), "root_threshold": String(root.threshold),
                        "root_keys": root.keys.map(\.id.short).joined(separator: ","),
                        "signers": root.signers(of: envelope).sorted().map(\.short).joined(separator: ","),
                    ])
                return PolicyRecord(digest: digest, seq: seq, setAt: now, envelope: json)
            }
        }
    }

    func currentPolicy() async throws -> PolicyRecord? {
        try await run { try pool.read { try currentPolicy($0)?.0 } }
    }

    /// The newest policy, its text checked against its digest and its envelope.
    func currentPolicy(_ query: PostgresSession.Query) throws -> (PolicyRecord, Policy)? {
        guard
            let row = try query.rows(
                "SELECT seq, digest, text, envelope, set_at FROM policies ORDER BY seq DESC LIMIT 1"
            ).first
        else { return nil }
        let (seq, digestText, text, envelope, setAt) = try row.decode((Int64, String, String, String, String).self)
        guard let digest = Digest(parsing: digestText), Digest.of(Array(text.utf8)) == digest,
            (try? SignedPolicy.unwrap(Array(envelope.utf8), source: "stored policy").1) == text
        else {
            throw StoreError(.integrity, "stored policy #\(seq) does not match its digest or its envelope")
        }
        let record = PolicyRecord(digest: digest, seq: seq, setAt: setAt, envelope: envelope)
        return (record, try PolicyFile.parse(text, name: "in force"))
    }

    func addEnvelope(_ bytes: [UInt8], about release: ReleaseID, keyID: String) async throws -> Bool {
        try await run {
            try write { query in
                guard
                    !(try query.rows("SELECT 1 FROM releases WHERE id = \(release.description)").isEmpty)
                else { throw StoreError(.notFound, "no release \(release) on this server") }
                let policy = try currentPolicy(query).map { ($0.1, $0.0.digest) }
                let (envelope, statement) = try EnvelopeCheck.check(bytes, about: release, policy: policy)
                let json = envelope.jsonBytes()
                let digest = Digest.of(json)
                let keyIDs = envelope.signatures.map(\.keyid).joined(separator: ",")
                let inserted = try query.rows(
                    """
                    INSERT INTO envelopes (digest, release, predicate_type, key_ids, envelope, added_at)
                    VALUES (\(digest.description), \(release.description), \(statement.predicateType), \(keyIDs),
                            \(String(decoding: json, as: UTF8.self)), \(Instant(clock.now()).description))
                    ON CONFLICT (digest) DO NOTHING RETURNING digest
                    """)
                guard !inserted.isEmpty else { return false }
                let action: LedgerAction =
                    statement.predicateType == InTotoStatement.PredicateType.testResult ? .attest : .sign
                try record(
                    query, action, subject: release.description,
                    details: [
                        "predicate_type": statement.predicateType, "key_ids": keyIDs,
                        "envelope": digest.description, "key": keyID,
                    ])
                return true
            }
        }
    }

    func envelopes(about release: ReleaseID) async throws -> [DSSEEnvelope] {
        try await run {
            try pool.read { query in
                try query.rows(
                    "SELECT envelope FROM envelopes WHERE release = \(release.description) ORDER BY added_at, digest"
                ).map { row in
                    let text = try row.decode(String.self)
                    return try DSSEEnvelope(json: Array(text.utf8), source: "stored envelope", allowUnsigned: true)
                }
            }
        }
    }

    func promote(_ ref: Ref, env: String, keyID: String, rollout: RolloutPlan?) async throws -> DesiredState {
        if rollout != nil { throw UnavailableFleet.failure }
        let release = try await resolve(ref).release
        return try await run {
            // Judged and written in one transaction: the policy cannot change in between.
            let outcome = try write { query -> Result<DesiredState, PromotionRefused> in
                func refuse(_ policy: Digest?, _ reason: String) throws -> Result<DesiredState, PromotionRefused> {
                    try record(
                        query, .promoteRefused, subject: release.description,
                        details: [
                            "env": env, "key": keyID, "policy": policy?.description ?? LedgerDetail.absent,
                            "reason": reason,
                        ])
                    return .failure(PromotionRefused(message: reason))
                }
                guard let (record, policy) = try currentPolicy(query) else {
                    return try refuse(
                        nil,
                        "the server has no policy: promotions need one (fixity policy set FILE --server URL --sign KEY)"
                    )
                }
                let envelopes = try query.rows(
                    "SELECT envelope FROM envelopes WHERE release = \(release.description) ORDER BY added_at, digest"
                ).compactMap { row in
                    try? DSSEEnvelope(
                        json: Array(try row.decode(String.self).utf8), source: "stored envelope", allowUnsigned: true)
                }
                // Known-good comes only from the ledger of hosts' health reports (the agent issue);
                // none are recorded in this database yet, and a client's word never counts.
                let decision = policy.evaluate(
                    env: env, app: Policy.Evidence(release: release, envelopes: envelopes, knownGoodIn: []))
                guard decision.governed else {
                    return try refuse(record.digest, "policy \(record.digest.short) defines no environment '\(env)'")
                }
                guard decision.allowed else {
                    return try refuse(
                        record.digest,
                        "policy \(record.digest.short) refuses \(env): " + decision.missing.joined(separator: "; "))
                }
                let now = Instant(clock.now()).description
                let seq = try query.rows(
                    """
                    INSERT INTO desired_states (env, release, policy, key_id, set_at)
                    VALUES (\(env), \(release.description), \(record.digest.description), \(keyID), \(now))
                    RETURNING seq
                    """
                ).first!.decode(Int64.self)
                try self.record(
                    query, .promote, subject: release.description,
                    details: [
                        "env": env, "key": keyID, "policy": record.digest.description, "desired_seq": String(seq),
                        "signers": decision.signers.map(\.short).joined(separator: ","),
                    ])
                return .success(
                    DesiredState(
                        env: env, release: release, seq: seq, policy: record.digest, key: keyID, setAt: now))
            }
            return try outcome.get()
        }
    }

    func desiredState(env: String) async throws -> DesiredState? {
        try await run { try pool.read { try desired($0, env: env) } }
    }

    func environment(_ env: String) async throws -> EnvironmentView {
        try await run {
            try pool.read { query in
                let desired = try desired(query, env: env)
                let current = try currentPolicy(query)
                let rules = current?.1.environments[env].map {
                    EnvironmentView.Rules(
                        trustedKeys: $0.trustedKeys, threshold: $0.threshold,
                        requireKnownGoodIn: $0.requireKnownGoodIn, requireTests: $0.requireTests)
                }
                return EnvironmentView(
                    env: env, desired: desired, policy: current?.0.digest, defined: rules != nil, rules: rules)
            }
        }
    }

    private func desired(_ query: PostgresSession.Query, env: String) throws -> DesiredState? {
        guard
            let row = try query.rows(
                "SELECT seq, release, policy, key_id, set_at FROM desired_states WHERE env = \(env) ORDER BY seq DESC LIMIT 1"
            ).first
        else { return nil }
        let (seq, release, policy, key, setAt) = try row.decode((Int64, String, String, String, String).self)
        guard let releaseDigest = Digest(parsing: release), let policyDigest = Digest(parsing: policy) else {
            throw StoreError(.integrity, "desired_states row \(seq) is malformed")
        }
        return DesiredState(
            env: env, release: ReleaseID(releaseDigest), seq: seq, policy: policyDigest, key: key, setAt: setAt)
    }
}
