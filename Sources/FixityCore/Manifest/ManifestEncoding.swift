/// Manifest format v1: a header line, then one line per entry, fields separated by one TAB:
///
///     TYPE \t MODE \t SIZE \t VALUE \t PATH \n
///
/// TYPE is `file`, `dir` or `symlink`; MODE four octal digits; SIZE decimal without leading
/// zeros (a file's byte count, 0 for a dir, the target's UTF-8 length for a symlink); VALUE
/// `sha256:<hex>` for a file, `-` for a dir, the target for a symlink. docs/manifest.md is the spec.
enum ManifestEncoding {
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")

    static func encode(_ entries: [ManifestEntry]) -> [UInt8] {
        var out = Array(Manifest.header.utf8)
        out.reserveCapacity(out.count + entries.count * 120)
        for entry in entries {
            let value: String =
                switch entry.kind {
                case .file(_, let digest): digest.description
                case .directory: "-"
                case .symlink(let target): target
                }
            out += entry.typeName.utf8
            out.append(tab)
            out += entry.modeString.utf8
            out.append(tab)
            out += String(entry.size).utf8
            out.append(tab)
            out += value.utf8
            out.append(tab)
            out += entry.path.utf8
            out.append(newline)
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws(ManifestError) -> [ManifestEntry] {
        let header = Array(Manifest.header.utf8)
        guard bytes.starts(with: header) else {
            throw ManifestError(line: 1, "missing header 'fixity-manifest 1' (unknown format or version)")
        }
        guard bytes.last == newline else { throw ManifestError("does not end with a newline") }
        var entries = [ManifestEntry]()
        var lineNumber = 1
        for line in bytes[header.count...].split(separator: newline, omittingEmptySubsequences: false).dropLast() {
            lineNumber += 1
            entries.append(try decodeLine(line, number: lineNumber))
        }
        return entries
    }

    private static func decodeLine(_ line: ArraySlice<UInt8>, number: Int) throws(ManifestError) -> ManifestEntry {
        let fields = line.split(separator: tab, omittingEmptySubsequences: false)
        guard fields.count == 5 else { throw ManifestError(line: number, "expected 5 TAB-separated fields, found \(fields.count)") }
        guard let path = String(validating: fields[4], as: UTF8.self) else {
            throw ManifestError(line: number, "path is not valid UTF-8")
        }
        func fail(_ problem: String) -> ManifestError { ManifestError(line: number, path: path, problem) }

        guard fields[1].count == 4, let mode = UInt32(String(decoding: fields[1], as: UTF8.self), radix: 8),
            fields[1].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") })
        else { throw fail("mode must be four octal digits") }
        guard let size = canonicalDecimal(fields[2]) else { throw fail("size must be a decimal number without leading zeros") }
        guard let value = String(validating: fields[3], as: UTF8.self) else { throw fail("value is not valid UTF-8") }

        let entry: ManifestEntry
        switch String(decoding: fields[0], as: UTF8.self) {
        case "file":
            guard let digest = Digest(parsing: value) else { throw fail("file value must be sha256:<64 lowercase hex>") }
            entry = .file(path, mode: mode, size: size, digest: digest)
        case "dir":
            guard value == "-", size == 0 else { throw fail("a dir has size 0 and value '-'") }
            entry = .directory(path, mode: mode)
        case "symlink":
            guard size == UInt64(fields[3].count) else { throw fail("symlink size must be the target's byte length") }
            entry = ManifestEntry(path: path, mode: mode, kind: .symlink(target: value))
        default:
            throw fail("unknown type '\(EntryPath.describe(bytes: Array(fields[0])))'")
        }
        return entry
    }

    private static func canonicalDecimal(_ field: ArraySlice<UInt8>) -> UInt64? {
        guard !field.isEmpty, field.count <= 19, field.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        if field.count > 1 && field.first == UInt8(ascii: "0") { return nil }
        return UInt64(String(decoding: field, as: UTF8.self))
    }
}
