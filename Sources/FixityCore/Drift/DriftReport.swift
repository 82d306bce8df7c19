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

    public init() {}

    public var clean: Bool { modified.isEmpty && added.isEmpty && removed.isEmpty && modeChanged.isEmpty && typeChanged.isEmpty }

    /// Every drifted path, for repair.
    public var drifted: Set<String> { Set(modified + added + removed + modeChanged + typeChanged) }

    /// A digest of the drift state, so the ledger records each distinct state once, not each run.
    public var stateDigest: Digest {
        var text = ""
        for (label, paths) in [("modified", modified), ("added", added), ("removed", removed), ("mode_changed", modeChanged), ("type_changed", typeChanged)] {
            for path in paths { text += "\(label)\t\(path)\t\(observed[path]?.description ?? "-")\n" }
        }
        return .of(Array(text.utf8))
    }

    enum CodingKeys: String, CodingKey {
        case modified, added, removed, modeChanged = "mode_changed", typeChanged = "type_changed", unreadable, observed
    }
}
