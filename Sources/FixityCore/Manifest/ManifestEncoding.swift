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
        // Field by field into one buffer, no String per field: a seal encodes every entry.
        func append(_ text: String) {
            var text = text
            text.withUTF8 { out.append(contentsOf: $0) }
        }
        for entry in entries {
            append(entry.typeName)
            out.append(tab)
            let mode = entry.mode
            if mode <= 0o7777 {
                for shift in [9, 6, 3, 0] {
                    out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: (mode >> UInt32(shift)) & 7))
                }
            } else {
                append(entry.modeString)
            }
            out.append(tab)
            appendDecimal(entry.size, to: &out)
            out.append(tab)
            switch entry.kind {
            case .file(_, let digest): digest.appendPrefixedHex(to: &out)
            case .directory: out.append(UInt8(ascii: "-"))
            case .symlink(let target): append(target)
            }
            out.append(tab)
            append(entry.path)
            out.append(newline)
        }
        return out
    }

    /// Decimal digits without leading zeros ("0" for zero), as `String(value)` spells them.
    static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            out.append(contentsOf: buffer[(20 - count)...])
        }
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
        // Byte-level: a large manifest is parsed on every show, export, deploy and verify.
        var tabs = [Int]()
        tabs.reserveCapacity(4)
        for index in line.indices where line[index] == tab {
            tabs.append(index)
            if tabs.count > 4 { break }
        }
        guard tabs.count == 4 else {
            let found =
                tabs.count > 4 ? line.split(separator: tab, omittingEmptySubsequences: false).count : tabs.count + 1
            throw ManifestError(line: number, "expected 5 TAB-separated fields, found \(found)")
        }
        let type = line[line.startIndex..<tabs[0]]
        let modeField = line[(tabs[0] + 1)..<tabs[1]]
        let sizeField = line[(tabs[1] + 1)..<tabs[2]]
        let valueField = line[(tabs[2] + 1)..<tabs[3]]
        guard let path = String(validating: line[(tabs[3] + 1)...], as: UTF8.self) else {
            throw ManifestError(line: number, "path is not valid UTF-8")
        }
        func fail(_ problem: String) -> ManifestError { ManifestError(line: number, path: path, problem) }

        guard modeField.count == 4, modeField.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) else {
            throw fail("mode must be four octal digits")
        }
        let mode = modeField.reduce(UInt32(0)) { $0 << 3 | UInt32($1 - UInt8(ascii: "0")) }
        guard let size = canonicalDecimal(sizeField) else {
            throw fail("size must be a decimal number without leading zeros")
        }

        if type.elementsEqual("file".utf8) {
            guard let digest = Digest(prefixedHex: valueField) else {
                throw fail("file value must be sha256:<64 lowercase hex>")
            }
            return .file(path, mode: mode, size: size, digest: digest)
        }
        if type.elementsEqual("dir".utf8) {
            guard valueField.elementsEqual("-".utf8), size == 0 else { throw fail("a dir has size 0 and value '-'") }
            return .directory(path, mode: mode)
        }
        if type.elementsEqual("symlink".utf8) {
            guard let target = String(validating: valueField, as: UTF8.self) else {
                throw fail("value is not valid UTF-8")
            }
            guard size == UInt64(valueField.count) else { throw fail("symlink size must be the target's byte length") }
            return ManifestEntry(path: path, mode: mode, kind: .symlink(target: target))
        }
        throw fail("unknown type '\(EntryPath.describe(bytes: Array(type)))'")
    }

    private static func canonicalDecimal(_ field: ArraySlice<UInt8>) -> UInt64? {
        guard !field.isEmpty, field.count <= 19,
            field.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else {
            return nil
        }
        if field.count > 1 && field.first == UInt8(ascii: "0") { return nil }
        return field.reduce(UInt64(0)) { $0 * 10 + UInt64($1 - UInt8(ascii: "0")) }
    }
}
