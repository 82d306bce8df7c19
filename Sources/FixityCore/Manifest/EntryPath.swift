/// Rules for the paths and link targets a manifest may hold, and their canonical order.
///
/// A path is relative, `/`-separated, valid UTF-8, with no empty, `.` or `..` component and no
/// control character (U+0000–U+001F, U+007F): control characters would let a name forge a line
/// of the manifest or a terminal's output, and no build output needs them.
public enum EntryPath {
    public static let maxComponentBytes = 255
    public static let maxPathBytes = 4096
    public static let maxTargetBytes = 4095

    /// Why `path` cannot be a manifest path, or nil when it can. Allocation-free: it runs for
    /// every entry of every manifest read and every tree walked.
    public static func problem(with path: String) -> String? {
        var path = path
        return path.withUTF8 { problem(bytes: $0) }
    }

    static func problem(bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let count = bytes.count
        if count == 0 { return "empty path" }
        if count > maxPathBytes { return "path longer than \(maxPathBytes) bytes" }
        if bytes[0] == UInt8(ascii: "/") { return "absolute path" }
        var start = 0
        for index in 0...count {
            if index < count && bytes[index] != UInt8(ascii: "/") {
                if isControl(bytes[index]) { return "control character 0x\(Hex.encode([bytes[index]])) in path" }
                continue
            }
            let length = index - start
            if length == 0 { return "empty path component" }
            if length == 1 && bytes[start] == UInt8(ascii: ".") { return "'.' component" }
            if length == 2 && bytes[start] == UInt8(ascii: ".") && bytes[start + 1] == UInt8(ascii: ".") {
                return "'..' component"
            }
            if length > maxComponentBytes { return "component longer than \(maxComponentBytes) bytes" }
            start = index + 1
        }
        return nil
    }

    /// Why `name` (one directory entry) cannot appear in a tree, or nil when it can.
    public static func problem(withName name: String) -> String? {
        if name.utf8.contains(UInt8(ascii: "/")) { return "'/' in a name" }
        return problem(with: name)
    }

    /// Why `target` cannot be a symlink target, or nil when it can. Absolute targets and `..` are
    /// legitimate content (a venv's `bin/python -> /usr/bin/python3`); Fixity never follows them.
    public static func problem(withTarget target: String) -> String? {
        let bytes = Array(target.utf8)
        if bytes.isEmpty { return "empty symlink target" }
        if bytes.count > maxTargetBytes { return "symlink target longer than \(maxTargetBytes) bytes" }
        if let bad = bytes.first(where: isControl) {
            return "control character 0x\(Hex.encode([bad])) in symlink target"
        }
        return nil
    }

    /// The canonical order: bytewise on UTF-8 with `/` ranked below every other byte, which is the
    /// order of a depth-first walk visiting siblings by name (`a`, `a/x`, `a-b`).
    public static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        // On the contiguous UTF-8 of native strings: this runs a few times per entry of every
        // manifest validation, diff and drift scan.
        var left = lhs
        var right = rhs
        return left.withUTF8 { l in right.withUTF8 { r in precedes(l, r) } }
    }

    public static func precedes(_ l: UnsafeBufferPointer<UInt8>, _ r: UnsafeBufferPointer<UInt8>) -> Bool {
        let shared = min(l.count, r.count)
        var index = 0
        while index < shared {
            let a = l[index]
            let b = r[index]
            if a != b { return rank(a) < rank(b) }
            index += 1
        }
        return l.count < r.count
    }

    /// The parent folder of `path`, nil at the top.
    public static func parent(of path: String) -> Substring? {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        return path[..<slash]
    }

    /// Renders bytes that may not be UTF-8 for an error message: invalid bytes and control
    /// characters become `\xNN`, so the message names the file without corrupting the terminal.
    public static func describe(bytes: [UInt8]) -> String {
        var out = ""
        var index = 0
        while index < bytes.count {
            let length = utf8SequenceLength(bytes, at: index)
            if length > 0, !isControl(bytes[index]) {
                out += String(decoding: bytes[index..<index + length], as: UTF8.self)
                index += length
            } else {
                out += "\\x" + Hex.encode([bytes[index]])
                index += 1
            }
        }
        return out
    }

    static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7f }

    private static func rank(_ byte: UInt8) -> Int { byte == UInt8(ascii: "/") ? -1 : Int(byte) }

    /// Length of a valid UTF-8 sequence starting at `index`, 0 if invalid.
    private static func utf8SequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        for length in 1...4 where index + length <= bytes.count {
            if let text = String(validating: bytes[index..<index + length], as: UTF8.self),
                text.unicodeScalars.count == 1
            {
                return length
            }
        }
        return 0
    }
}
