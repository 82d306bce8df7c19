import FixityCore
import FixityLedger
import FixityStore
import GRDB

/// "What ran here at 3 a.m.?": the deployment live on a root (or in an environment) at an
/// instant, answered from ledger entries only, each with its inclusion proof against the latest
/// signed checkpoint that covers them, so the answer can be checked without trusting this host.
package struct StateAtTime {
    package enum Scope: Sendable {
        case root(String)
        case env(String)
    }

    /// A release's tags and signatures as the ledger had them at the instant.
    package struct SignatureAt: Sendable, Encodable {
        package let seq: Int64
        package let time: String
        package let predicateType: String
        package let keyIDs: [String]
        /// The digest of the envelope the entry recorded.
        package let envelope: String?
        enum CodingKeys: String, CodingKey {
            case seq, time, predicateType = "predicate_type", keyIDs = "key_ids", envelope
        }
    }

    package struct Active: Sendable, Encodable {
        package let deployment: Digest
        package let release: ReleaseID?
        package let config: ReleaseID?
        package let configPath: String?
        package let env: String?
        package let since: String
        /// When the next switch on the root replaced it; nil while it is still live.
        package let until: String?
        package let tags: [String]
        package let signatures: [SignatureAt]
        /// `known-good`, `known-bad`, or `pending` (switched to, health not yet recorded).
        package let health: String
        /// `clean`, `drifted` or `unverified` (no verify recorded in this span up to the instant).
        package let drift: String
        package let driftState: String?
        package let repairedAt: String?
        enum CodingKeys: String, CodingKey {
            case deployment, release, config, configPath = "config_path", env, since, until, tags, signatures, health,
                drift
            case driftState = "drift_state", repairedAt = "repaired_at"
        }
    }

    package struct RootAnswer: Sendable, Encodable {
        package let root: String
        /// Nil: nothing was live on the root at the instant (before its first switch, or after
        /// a failed first deploy left it empty).
        package let active: Active?
        /// The switch that ended the empty period, when `active` is nil and one followed.
        package let nextSwitch: String?
        enum CodingKeys: String, CodingKey { case root, active, nextSwitch = "next_switch" }
    }

    package struct ProvenEntry: Sendable, Encodable {
        package let entry: LedgerEntry
        package let inclusion: InclusionProof
        package init(entry: LedgerEntry, inclusion: InclusionProof) {
            self.entry = entry
            self.inclusion = inclusion
        }
    }

    package struct CheckpointUsed: Sendable, Encodable {
        package let size: Int
        package let root: String
        package let keyID: String
        package let note: String
        enum CodingKeys: String, CodingKey { case size, root, keyID = "key_id", note }
    }

    package struct Answer: Sendable, Encodable {
        package let at: String
        package let scope: String
        /// For `--root`, that root's answer; for `--env`, the root switched to most recently.
        package let active: Active?
        package let roots: [RootAnswer]
        package let proof: [ProvenEntry]
        /// The signed checkpoint the proofs are against; nil when no stored checkpoint covers every
        /// entry of the proof (then they are against the current, unsigned tree head).
        package let checkpoint: CheckpointUsed?
        package let treeSize: Int
        package let rootHash: String
        package let warnings: [String]
        enum CodingKeys: String, CodingKey {
            case at, scope, active, roots, proof, checkpoint, treeSize = "tree_size", rootHash = "root_hash", warnings
        }
    }

    let store: Store

    package init(store: Store) { self.store = store }

    package func answer(at time: String, scope: Scope) throws -> Answer {
        try store.database.storeRead { db in
            let relevant = ActivationTimeline.switchingActions.union(ActivationTimeline.describingActions).union(
                ActivationTimeline.treeStateActions)
            let timeline = ActivationTimeline(
                entries: try History.entries(db, actions: relevant), firstTime: try History.firstTime(db))
            var spans = [ActivationTimeline.Span]()
            let scopeName: String
            switch scope {
            case .root(let root):
                scopeName = "root \(root)"
                spans = [try timeline.span(root: root, at: time)]
            case .env(let env):
                scopeName = "env \(env)"
                let roots = timeline.roots(env: env)
                guard !roots.isEmpty else { throw ActivationTimeline.QueryError.unknownEnv(env) }
                var firstRefusal: (any Error)?
                for root in roots {
                    do {
                        let span = try timeline.span(root: root, at: time)
                        // A root of the env that was switched to another env's deployment at that time is not in it then.
                        if span.env == nil || span.env == env { spans.append(span) }
                    } catch {
                        if firstRefusal == nil { firstRefusal = error }
                    }
                }
                if spans.isEmpty, let firstRefusal { throw firstRefusal }
            }

            var evidence = [Int64: LedgerEntry]()
            var answers = [RootAnswer]()
            for span in spans {
                for entry in span.evidence { evidence[entry.seq] = entry }
                answers.append(try rootAnswer(db, span: span, at: time, evidence: &evidence))
            }
            let newest = answers.filter { $0.active != nil }.max { ($0.active!.since) < ($1.active!.since) }
            let (proof, checkpoint, size, root, warnings) = try prove(
                db, entries: evidence.values.sorted { $0.seq < $1.seq })
            return Answer(
                at: time, scope: scopeName, active: newest?.active, roots: answers, proof: proof,
                checkpoint: checkpoint,
                treeSize: size, rootHash: root, warnings: warnings)
        }
    }

    private func rootAnswer(
        _ db: Database, span: ActivationTimeline.Span, at time: String, evidence: inout [Int64: LedgerEntry]
    ) throws -> RootAnswer {
        guard let deployment = span.deployment, let since = span.since else {
            return RootAnswer(root: span.root, active: nil, nextSwitch: span.until?.time)
        }
        guard let instant = Instant(rfc3339: time) else { throw ActivationTimeline.QueryError.badTime(time) }
        func atOrBefore(_ entry: LedgerEntry) -> Bool { Instant(rfc3339: entry.time).map { $0 <= instant } ?? false }
        var tags = [String]()
        var signatures = [SignatureAt]()
        if let release = span.release {
            for entry in try History.entries(db, actions: [.tag, .sign, .attest], subject: release.description)
            where atOrBefore(entry) {
                evidence[entry.seq] = entry
                if entry.kind == .tag {
                    if let tag = entry.details["tag"] { tags.append(tag) }
                } else {
                    signatures.append(
                        SignatureAt(
                            seq: entry.seq, time: entry.time, predicateType: entry.details["predicate_type"] ?? "?",
                            keyIDs: (entry.details["key_ids"] ?? "").split(separator: ",").map(String.init),
                            envelope: entry.details["envelope"]))
                }
            }
        }
        let health: String
        // A check that was interrupted decided nothing: the deployment is still pending.
        switch span.health.map({ HealthResult(rawValue: $0.details["result"] ?? "") }) {
        case nil, .interrupted??: health = RootHistory.Health.pending.rawValue
        case .fail??: health = RootHistory.Health.knownBad.rawValue
        default: health = RootHistory.Health.knownGood.rawValue
        }
        // A repair after the last drift entry is followed by its own drift entry (clean), so the
        // newest drift entry is the tree's state as last verified.
        let drift: String
        switch span.drift?.details["clean"] {
        case LedgerDetail.flag(true)?: drift = TreeStateAtTime.clean.rawValue
        case LedgerDetail.flag(false)?: drift = TreeStateAtTime.drifted.rawValue
        default: drift = TreeStateAtTime.unverified.rawValue
        }
        let active = Active(
            deployment: deployment, release: span.release, config: span.config, configPath: span.configPath,
            env: span.env,
            since: since.time, until: span.until?.time, tags: tags, signatures: signatures, health: health,
            drift: drift,
            driftState: drift == TreeStateAtTime.drifted.rawValue ? span.drift?.details["state"] : nil,
            repairedAt: span.repair?.time)
        return RootAnswer(root: span.root, active: active, nextSwitch: nil)
    }

    /// Inclusion proofs for `entries` against the newest stored checkpoint that covers them all,
    /// or against the current tree when none does (with a warning saying how to fix that).
    private func prove(_ db: Database, entries: [LedgerEntry]) throws -> (
        [ProvenEntry], CheckpointUsed?, Int, String, [String]
    ) {
        let size = try Ledger.size(db)
        let needed = Int((entries.map(\.seq).max() ?? -1) + 1)
        var warnings = [String]()
        var checkpoint: CheckpointUsed?
        if let stored = try Ledger.newestCheckpoint(db, covering: needed) {
            checkpoint = CheckpointUsed(size: stored.size, root: stored.root, keyID: stored.keyID, note: stored.note)
        } else if !entries.isEmpty {
            warnings.append(
                "no signed checkpoint covers entry \(needed - 1): the proofs are against the current tree head, which is not signed; run `fixity log checkpoint --key KEYFILE` and ask again"
            )
        }
        let treeSize = checkpoint?.size ?? size
        let root = try checkpoint?.root ?? Hex.encode(Ledger.prover(db).root(size: treeSize))
        let proofs = try entries.map {
            ProvenEntry(entry: $0, inclusion: try InclusionProof.make(db, seq: $0.seq, size: treeSize))
        }
        return (proofs, checkpoint, treeSize, root, warnings)
    }
}

/// What `state --at` says about a live tree, from the newest `drift` entry of its span.
package enum TreeStateAtTime: String, Sendable {
    case clean
    case drifted
    /// No verify recorded in the span.
    case unverified
}
