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

    /// A merge walk over two canonically ordered entry lists (`CanonicalMerge`).
    public init(from old: Manifest, to new: Manifest) {
        CanonicalMerge.walk(old.entries, new.entries, leftPath: \.path, rightPath: \.path) { step in
            switch step {
            case .onlyLeft(let gone): removed.append(gone.path)
            case .onlyRight(let new): added.append(new.path)
            case .both(let old, let new): compare(old, new)
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
