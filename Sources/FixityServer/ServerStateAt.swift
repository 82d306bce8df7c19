import FixityCore
import FixityHost
import FixityLedger

/// "What was production meant to run at 3 a.m., and under which policy?" — answered from the
/// server's ledger alone: each environment's desired state at an instant (the newest `promote`
/// entry for it at or before the instant, live until the next one) and the policy in force (the
/// newest `policy` entry). Every entry the answer rests on comes with its inclusion proof against
/// one tree (`tree_size`, `root_hash`), which a client holds against a checkpoint it keeps
/// (`fixity log verify --server --checkpoint`) — so nobody has to take the server's word.
/// What each host actually ran arrives with the hosts' reports (the agent issue).
enum ServerStateAt {
    struct Desired: Sendable, Encodable {
        let env: String
        let release: String
        /// The digest of the policy the promotion was judged under.
        let policy: String?
        /// The id of the key that promoted it.
        let key: String?
        /// The promotion's ledger entry.
        let seq: Int64
        let since: String
        /// When the next promotion of the environment replaced it; nil while it still stands.
        let until: String?

        enum CodingKeys: String, CodingKey { case env, release, policy, key, seq, since, until }

        // Absent values are spelled `null`, as docs/api.yaml says: a reader never guesses.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(env, forKey: .env)
            try container.encode(release, forKey: .release)
            try container.encode(policy, forKey: .policy)
            try container.encode(key, forKey: .key)
            try container.encode(seq, forKey: .seq)
            try container.encode(since, forKey: .since)
            try container.encode(until, forKey: .until)
        }
    }

    struct PolicyInForce: Sendable, Encodable {
        let digest: String
        let seq: Int64
        let since: String
    }

    struct Answer: Sendable, Encodable {
        let at: String
        let treeSize: Int
        let rootHash: String
        /// Nil when no policy had been set by then.
        let policy: PolicyInForce?
        /// Environments with a desired state at the instant, by name.
        let environments: [Desired]
        let proof: [StateAtTime.ProvenEntry]

        enum CodingKeys: String, CodingKey {
            case at, treeSize = "tree_size", rootHash = "root_hash", policy, environments, proof
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(at, forKey: .at)
            try container.encode(treeSize, forKey: .treeSize)
            try container.encode(rootHash, forKey: .rootHash)
            try container.encode(policy, forKey: .policy)
            try container.encode(environments, forKey: .environments)
            try container.encode(proof, forKey: .proof)
        }
    }

    /// The answer at `instant` (for `env` only, when given). An instant before the ledger's
    /// first entry is refused: the ledger cannot speak for a time before it.
    static func answer(_ ledger: any LedgerLog, at instant: Instant, env: String?) throws -> Answer {
        // One tree for the whole answer: entries appended meanwhile are not part of it.
        let size = try ledger.size()
        guard size > 0, let first = try ledger.entry(seq: 0), let start = Instant(rfc3339: first.time) else {
            throw APIFailure.notFound("the ledger is empty: there is no state to answer for")
        }
        guard instant >= start else {
            throw APIFailure.notFound("\(instant) is before the ledger's first entry (\(first.time))")
        }
        let entries = try ledger.entries(actions: [.promote, .policy]).filter { $0.seq < Int64(size) }
        // An entry whose time does not parse (none should) counts as after every instant.
        func isBy(_ entry: LedgerEntry) -> Bool { Instant(rfc3339: entry.time).map { $0 <= instant } ?? false }

        var policy: LedgerEntry?
        var standing: [String: LedgerEntry] = [:]
        var next: [String: LedgerEntry] = [:]
        for entry in entries {
            let by = isBy(entry)
            if entry.kind == .policy {
                if by { policy = entry }
                continue
            }
            guard let target = entry.details["env"], env == nil || env == target else { continue }
            if by {
                standing[target] = entry
            } else if next[target] == nil {
                next[target] = entry
            }
        }
        let environments = standing.keys.sorted().map { name -> Desired in
            let entry = standing[name]!
            return Desired(
                env: name, release: entry.subject, policy: entry.details["policy"], key: entry.details["key"],
                seq: entry.seq, since: entry.time, until: next[name]?.time)
        }
        let used = (policy.map { [$0] } ?? []) + environments.compactMap { standing[$0.env] }
        let proof = try used.sorted { $0.seq < $1.seq }.map { entry in
            StateAtTime.ProvenEntry(
                entry: entry, inclusion: try ledger.inclusionProofDocument(seq: entry.seq, size: size))
        }
        return Answer(
            at: instant.description, treeSize: size, rootHash: Hex.encode(try ledger.root(size: size)),
            policy: policy.map { PolicyInForce(digest: $0.subject, seq: $0.seq, since: $0.time) },
            environments: environments, proof: proof)
    }
}
