/// How a live tree differs from its deployment's manifest, by path (relative to the tree's top,
/// `/`-separated, canonical order). Empty lists: clean.
public struct DriftReport: Sendable, Codable, Equatable {
    public var modified: [String] = []
    public var added: [String] = []
    public var removed: [String] = []
    public var modeChanged: [String] = []
    public var typeChanged: [String] = []
    /// Paths that could not be checked (permission denied …): reported as such, not as drift.
    public var unreadable: [String] = []
    /// The live content digest of modified and added files, as found.
    public var observed: [String: Digest] = [:]
    /// What a drifted path is now, and what it was, for people (`verify` shows "0644 -> 0755").
    /// Not part of the state digest, nor of evidence records (which keep their own stat data).
    public var live: [String: LiveState] = [:]

    public struct LiveState: Sendable, Equatable {
        /// file, directory, symlink, or another kind found.
        public var type: String
        /// Octal permission bits (none for a symlink).
        public var mode: String?
        public var target: String?
        /// What the manifest says it was, for a change of mode, type or target ("0644", "file",
        /// "-> a.js"); nil for an added path.
        public var was: String?

        public init(type: String, mode: String?, target: String?, was: String?) {
            self.type = type
            self.mode = mode
            self.target = target
            self.was = was
        }

        /// "0644 -> 0755", "file -> directory", "-> a.js -> -> b.js", for a row of `verify`.
        public var change: String? {
            guard let was else { return nil }
            let now =
                was.hasPrefix("-> ") ? "-> " + (target ?? "?") : (was.first?.isNumber == true ? mode ?? type : type)
            return "\(was) => \(now)"
        }
    }

    public init() {}

    public var clean: Bool {
        modified.isEmpty && added.isEmpty && removed.isEmpty && modeChanged.isEmpty && typeChanged.isEmpty
    }

    /// Every drifted path, for repair.
    public var drifted: Set<String> { Set(modified + added + removed + modeChanged + typeChanged) }

    /// This report with everything at or below `subtrees` replaced by `part` (which covers
    /// exactly those subtrees), every list back in canonical order.
    public func replacing(subtrees: [String], with part: DriftReport) -> DriftReport {
        func outside(_ path: String) -> Bool {
            !subtrees.contains { path == $0 || path.hasPrefix($0 + "/") }
        }
        func merge(_ mine: [String], _ theirs: [String]) -> [String] {
            (mine.filter(outside) + theirs).sorted { EntryPath.precedes($0, $1) }
        }
        var result = DriftReport()
        result.modified = merge(modified, part.modified)
        result.added = merge(added, part.added)
        result.removed = merge(removed, part.removed)
        result.modeChanged = merge(modeChanged, part.modeChanged)
        result.typeChanged = merge(typeChanged, part.typeChanged)
        result.unreadable = merge(unreadable, part.unreadable)
        result.observed = observed.filter { outside($0.key) }.merging(part.observed) { $1 }
        result.live = live.filter { outside($0.key) }.merging(part.live) { $1 }
        return result
    }

    /// This report with only `paths`' changes (what a repair of just those paths acts on).
    public func restricted(to paths: Set<String>) -> DriftReport {
        var result = DriftReport()
        result.modified = modified.filter(paths.contains)
        result.added = added.filter(paths.contains)
        result.removed = removed.filter(paths.contains)
        result.modeChanged = modeChanged.filter(paths.contains)
        result.typeChanged = typeChanged.filter(paths.contains)
        result.unreadable = unreadable.filter(paths.contains)
        result.observed = observed.filter { paths.contains($0.key) }
        result.live = live.filter { paths.contains($0.key) }
        return result
    }

    /// A digest of the drift state, so the ledger records each distinct state once, not each run.
    public var stateDigest: Digest {
        var text = ""
        for kind in ChangeKind.allCases {
            for path in paths(kind) { text += "\(kind.rawValue)\t\(path)\t\(observed[path]?.description ?? "-")\n" }
        }
        return .of(Array(text.utf8))
    }

    enum CodingKeys: String, CodingKey {
        case modified, added, removed, modeChanged = "mode_changed", typeChanged = "type_changed", unreadable, observed
    }
}

extension DriftReport: ChangeLists {}
