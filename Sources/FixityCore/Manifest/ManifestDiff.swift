/// The kinds of change a diff or a drift report lists, spelled as their JSON keys, ledger details
/// and the labels of human output. `allCases` is the order of the drift state digest.
public enum ChangeKind: String, Sendable, CaseIterable {
    case modified
    case added
    case removed
    case modeChanged = "mode_changed"
    case typeChanged = "type_changed"
}

/// What changed between two trees, by path, in canonical order.
public struct ManifestDiff: Sendable, Equatable {
    public var added: [String] = []
    public var removed: [String] = []
    /// Same type, different content: a file's bytes or a symlink's target.
    public var modified: [String] = []
    /// Same type, different permission bits (whether or not the content changed too: a file
    /// edited and made executable is in both `modified` and `modeChanged`).
    public var modeChanged: [String] = []
    /// A file became a directory or a symlink, and so on.
    public var typeChanged: [String] = []

    public var isEmpty: Bool {
        added.isEmpty && removed.isEmpty && modified.isEmpty && modeChanged.isEmpty && typeChanged.isEmpty
    }

    /// A merge walk over two canonically ordered entry lists: linear time, no dictionaries.
    public init(from old: Manifest, to new: Manifest) {
        let left = old.entries
        let right = new.entries
        var i = 0
        var j = 0
        while i < left.count || j < right.count {
            if j == right.count || (i < left.count && EntryPath.precedes(left[i].path, right[j].path)) {
                removed.append(left[i].path)
                i += 1
            } else if i == left.count || EntryPath.precedes(right[j].path, left[i].path) {
                added.append(right[j].path)
                j += 1
            } else {
                compare(left[i], right[j])
                i += 1
                j += 1
            }
        }
    }

    private mutating func compare(_ old: ManifestEntry, _ new: ManifestEntry) {
        switch (old.kind, new.kind) {
        case (.file, .file), (.symlink, .symlink), (.directory, .directory):
            if old.kind != new.kind { modified.append(new.path) }
            if old.mode != new.mode { modeChanged.append(new.path) }
        default:
            typeChanged.append(new.path)
        }
    }
}

/// A list of paths per kind of change: a diff between releases, drift of a live tree.
public protocol ChangeLists {
    var modified: [String] { get }
    var added: [String] { get }
    var removed: [String] { get }
    var modeChanged: [String] { get }
    var typeChanged: [String] { get }
}

extension ChangeLists {
    /// The paths with this kind of change.
    public func paths(_ kind: ChangeKind) -> [String] {
        switch kind {
        case .modified: modified
        case .added: added
        case .removed: removed
        case .modeChanged: modeChanged
        case .typeChanged: typeChanged
        }
    }
}

extension ManifestDiff: ChangeLists {}
