/// One entry of a manifest: everything below the top folder that Fixity seals.
public struct ManifestEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case file(size: UInt64, digest: Digest)
        case directory
        case symlink(target: String)

        public static func == (lhs: Kind, rhs: Kind) -> Bool {
            switch (lhs, rhs) {
            case let (.file(ls, ld), .file(rs, rd)): ls == rs && ld == rd
            case (.directory, .directory): true
            case let (.symlink(lt), .symlink(rt)): lt.utf8.elementsEqual(rt.utf8)
            default: false
            }
        }

        public func hash(into hasher: inout Hasher) {
            switch self {
            case let .file(size, digest): hasher.combine(0); hasher.combine(size); hasher.combine(digest)
            case .directory: hasher.combine(1)
            case let .symlink(target): hasher.combine(2); hasher.combine(Array(target.utf8))
            }
        }
    }

    /// Relative, `/`-separated, validated by `EntryPath`.
    public let path: String
    /// Permission bits only (`0o7777`); a symlink's are always `0o777`.
    public let mode: UInt32
    public let kind: Kind

    public init(path: String, mode: UInt32, kind: Kind) {
        self.path = path
        self.mode = mode
        self.kind = kind
    }

    public static func file(_ path: String, mode: UInt32, size: UInt64, digest: Digest) -> ManifestEntry {
        ManifestEntry(path: path, mode: mode, kind: .file(size: size, digest: digest))
    }

    public static func directory(_ path: String, mode: UInt32) -> ManifestEntry {
        ManifestEntry(path: path, mode: mode, kind: .directory)
    }

    public static func symlink(_ path: String, target: String) -> ManifestEntry {
        ManifestEntry(path: path, mode: 0o777, kind: .symlink(target: target))
    }

    public var typeName: String {
        switch kind {
        case .file: "file"
        case .directory: "dir"
        case .symlink: "symlink"
        }
    }

    /// Four octal digits, as in the manifest and JSON output (`"0644"`).
    public var modeString: String { Self.octal(mode) }

    public var size: UInt64 {
        switch kind {
        case .file(let size, _): size
        case .directory: 0
        case .symlink(let target): UInt64(target.utf8.count)
        }
    }

    public var digest: Digest? {
        if case .file(_, let digest) = kind { return digest }
        return nil
    }

    public var target: String? {
        if case .symlink(let target) = kind { return target }
        return nil
    }

    public var isDirectory: Bool { if case .directory = kind { true } else { false } }

    /// Byte-exact equality. Swift's `String ==` treats canonically equivalent Unicode as equal,
    /// but a retargeted symlink or a renamed file is a change even when only normalization differs.
    public static func == (lhs: ManifestEntry, rhs: ManifestEntry) -> Bool {
        lhs.mode == rhs.mode && lhs.path.utf8.elementsEqual(rhs.path.utf8) && lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(mode)
        hasher.combine(Array(path.utf8))
        hasher.combine(kind)
    }

    /// Four octal digits (`0644`), as in the manifest.
    public static func octalMode(_ mode: UInt32) -> String { octal(mode) }

    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
