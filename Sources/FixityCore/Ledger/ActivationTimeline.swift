/// Which deployment was live on a root at an instant, worked out from ledger entries alone — no
/// store tables, no file system — so `state --at` answers from what the Merkle log proves.
///
/// A root's live deployment changes only by a switching entry: `activate` (a deploy switched to
/// it), `rollback` (automatic or by hand, switched to its subject) or `deactivate` (the root was
/// left with nothing active). Each carries `details.root`. The span of a switch runs from its
/// time to the time of the next switching entry on the same root. Entries are taken in sequence
/// order (the log's order), and an instant falls in the last switch at or before it.
public struct ActivationTimeline: Sendable {
    public static let switchingActions = LedgerAction.switching
    /// Entries that describe a deployment without switching: where release and config come
    /// from when a switching entry predates the `release` detail.
    public static let describingActions = LedgerAction.describing
    /// Entries about the state of the live tree while a deployment was active.
    public static let treeStateActions = LedgerAction.treeState

    /// What a query resolves to.
    public struct Span: Sendable {
        public let root: String
        /// The switching entry that began the span; nil when the instant is before the root's
        /// first switch.
        public let since: LedgerEntry?
        /// The next switching entry on the root; nil while the span lasts.
        public let until: LedgerEntry?
        /// The deployment live during the span (nil before the first switch or after a deactivate).
        public let deployment: Digest?
        public let release: ReleaseID?
        public let config: ReleaseID?
        public let configPath: String?
        public let env: String?
        /// The entry that names release and config, when it is not `since` itself.
        public let described: LedgerEntry?
        /// The newest health entry for the deployment on this root at or before the instant, and
        /// the newest drift and repair entries within the span.
        public let health: LedgerEntry?
        public let drift: LedgerEntry?
        public let repair: LedgerEntry?

        /// Every entry the answer rests on, in sequence order.
        public var evidence: [LedgerEntry] {
            [since, described, health, drift, repair, until].compactMap { $0 }.sorted { $0.seq < $1.seq }
        }
    }

    public enum QueryError: FixityError, Sendable, Equatable {
        case badTime(String)
        case emptyLedger
        case beforeFirstEntry(at: String, first: String)
        case unknownRoot(String)
        case unknownEnv(String)
        case beforeScope(scope: String, at: String, first: String)

        public var category: ErrorCategory { .badInput }

        public var message: String {
            switch self {
            case .badTime(let text): "'\(text)' is not an RFC 3339 time (e.g. 2026-11-29T03:00:00Z)"
            case .emptyLedger: "the ledger is empty: nothing has been recorded yet"
            case .beforeFirstEntry(let at, let first):
                "\(at) is before the first ledger entry (\(first)): the ledger says nothing about that time"
            case .unknownRoot(let root):
                "no ledger entry names root \(root): nothing was ever deployed there from this store"
            case .unknownEnv(let env): "no deployment to environment '\(env)' is in the ledger"
            case .beforeScope(let scope, let at, let first):
                "\(at) is before the first ledger entry about \(scope) (\(first))"
            }
        }
    }

    private let entries: [LedgerEntry]
    private let firstTime: String?

    /// `entries`: the switching, describing and tree-state entries in sequence order;
    /// `firstTime`: the time of the ledger's entry 0 (the bound for "before the first entry").
    public init(entries: [LedgerEntry], firstTime: String?) {
        self.entries = entries.sorted { $0.seq < $1.seq }
        self.firstTime = firstTime
    }

    /// The roots an environment's deployments were switched to, from `activate` entries (and
    /// `rollback` entries that name the env), in order of first appearance.
    public func roots(env: String) -> [String] {
        var seen = [String]()
        for entry in entries where entry.kind.map(Self.switchingActions.contains) == true && entry.details["env"] == env
        {
            if let root = entry.details["root"], !seen.contains(root) { seen.append(root) }
        }
        return seen
    }

    public func span(root: String, at time: String) throws(QueryError) -> Span {
        let instant = try Self.instant(time)
        try checkLedgerCovers(instant, time: time)
        let onRoot = entries.filter { $0.details["root"] == root }
        guard let first = onRoot.first else { throw .unknownRoot(root) }
        if let firstInstant = Instant(rfc3339: first.time), instant < firstInstant {
            throw .beforeScope(scope: "root \(root)", at: time, first: first.time)
        }
        let switches = onRoot.filter { $0.kind.map(Self.switchingActions.contains) == true }
        var since: LedgerEntry?
        var until: LedgerEntry?
        for entry in switches {
            guard let at = Instant(rfc3339: entry.time) else { continue }
            if at <= instant {
                since = entry
            } else {
                until = entry
                break
            }
        }
        guard let since else {
            return Span(
                root: root, since: nil, until: until, deployment: nil, release: nil, config: nil, configPath: nil,
                env: nil,
                described: nil, health: nil, drift: nil, repair: nil)
        }
        let deployment = since.kind == .deactivate ? nil : Digest(parsing: since.subject)
        var described: LedgerEntry?
        var release = since.details["release"].flatMap(Digest.init(parsing:)).map(ReleaseID.init)
        var config = since.details["config"].flatMap(Digest.init(parsing:)).map(ReleaseID.init)
        var configPath = since.details["config_path"]
        var env = since.optionalDetail("env")
        if let deployment, release == nil {
            // Older switching entries name only the deployment: its deploy entry names the pair.
            described = onRoot.last {
                $0.kind == .deploy && $0.subject == deployment.description && $0.seq < since.seq
            }
            release = described?.details["release"].flatMap(Digest.init(parsing:)).map(ReleaseID.init)
            config = described?.details["config"].flatMap(Digest.init(parsing:)).map(ReleaseID.init)
            configPath = described?.details["config_path"]
            if env == nil { env = described?.optionalDetail("env") }
        }
        // The live tree's state as last recorded within the span, at or before the instant.
        // Health is the deployment's standing on the root (earned in an earlier span too); drift
        // and repair describe this span's tree only.
        func latest(_ action: LedgerAction, withinSpan: Bool = true) -> LedgerEntry? {
            guard let deployment else { return nil }
            return onRoot.last { entry in
                entry.kind == action && entry.subject == deployment.description
                    && (!withinSpan || entry.seq > since.seq)
                    && (until.map { entry.seq < $0.seq } ?? true)
                    && (Instant(rfc3339: entry.time).map { $0 <= instant } ?? false)
            }
        }
        return Span(
            root: root, since: since, until: until, deployment: deployment, release: release, config: config,
            configPath: configPath, env: env,
            described: described, health: latest(.health, withinSpan: false), drift: latest(.drift),
            repair: latest(.repair))
    }

    static func instant(_ time: String) throws(QueryError) -> Instant {
        guard let instant = Instant(rfc3339: time) else { throw .badTime(time) }
        return instant
    }

    private func checkLedgerCovers(_ instant: Instant, time: String) throws(QueryError) {
        guard let firstTime, let first = Instant(rfc3339: firstTime) else { throw .emptyLedger }
        if instant < first { throw .beforeFirstEntry(at: time, first: firstTime) }
    }
}
