/// POSIX ustar headers, with PAX extended headers (`x`) for what ustar cannot hold, written
/// deterministically for reproducible image layers (docs/oci.md): uid/gid 0, empty user and group
/// names, one fixed mtime, device numbers 0, no atime/ctime. Only the fields Fixity writes are
/// modelled; the reader (`TarReader`) accepts the wider set real images use.
public enum TarHeader {
    public static let blockSize = 512

    public enum TypeFlag: UInt8, Sendable {
        case file = 48  // '0'
        case hardLink = 49  // '1'
        case symlink = 50  // '2'
        case directory = 53  // '5'
        case paxExtended = 120  // 'x'
    }

    /// The blocks for one entry's header (a PAX header first when needed). `name` is the path as
    /// it goes into the archive (a directory's with a trailing `/`).
    public static func encode(
        name: String, type: TypeFlag, mode: UInt32, size: UInt64, linkName: String = "", mtime: Int64
    ) -> [UInt8] {
        var pax = [(String, String)]()
        let nameBytes = Array(name.utf8)
        var ustarName = nameBytes
        var prefix = [UInt8]()
        if nameBytes.count > 100 {
            if let split = splitForUstar(nameBytes) {
                (prefix, ustarName) = split
            } else {
                pax.append(("path", name))
                ustarName = Array(nameBytes.suffix(100))
            }
        }
        let linkBytes = Array(linkName.utf8)
        if linkBytes.count > 100 { pax.append(("linkpath", linkName)) }
        if size > 0o77777777777 { pax.append(("size", String(size))) }

        var out = [UInt8]()
        if !pax.isEmpty {
            var record = [UInt8]()
            for (key, value) in pax { record += paxRecord(key: key, value: value) }
            // The PAX header's own name: fixed, so the archive stays reproducible.
            out += block(
                name: Array("PaxHeaders/entry".utf8), prefix: [], type: .paxExtended, mode: 0o644,
                size: UInt64(record.count), linkName: [], mtime: mtime)
            out += record
            out += [UInt8](repeating: 0, count: padding(UInt64(record.count)))
        }
        out += block(
            name: ustarName, prefix: prefix, type: type, mode: mode, size: size > 0o77777777777 ? 0 : size,
            linkName: Array(linkBytes.prefix(100)), mtime: mtime)
        return out
    }

    /// Zero bytes that complete a member of `size` bytes to a whole block.
    public static func padding(_ size: UInt64) -> Int {
        Int((UInt64(blockSize) - size % UInt64(blockSize)) % UInt64(blockSize))
    }

    /// Two zero blocks end an archive.
    public static let end = [UInt8](repeating: 0, count: 2 * blockSize)

    /// A PAX record: `"<length> <key>=<value>\n"`, the length counting itself.
    static func paxRecord(key: String, value: String) -> [UInt8] {
        let body = Array(" \(key)=\(value)\n".utf8)
        var length = body.count + 1
        while String(length).utf8.count + body.count > length { length += 1 }
        return Array(String(length).utf8) + body
    }

    /// ustar's prefix (≤ 155 bytes) / name (≤ 100 bytes) split at a `/`, when one exists.
    static func splitForUstar(_ path: [UInt8]) -> (prefix: [UInt8], name: [UInt8])? {
        guard path.count <= 256 else { return nil }
        for index in stride(from: min(path.count - 1, 155), through: 1, by: -1) where path[index] == 47 {
            let name = Array(path[(index + 1)...])
            if name.count <= 100 && !name.isEmpty { return (Array(path[..<index]), name) }
        }
        return nil
    }

    private static func block(
        name: [UInt8], prefix: [UInt8], type: TypeFlag, mode: UInt32, size: UInt64, linkName: [UInt8], mtime: Int64
    ) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int, width: Int) {
            for (index, byte) in bytes.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: UInt64, at offset: Int, width: Int) {
            // width - 1 octal digits, zero-padded, then NUL.
            var digits = Array(String(value, radix: 8).utf8)
            digits = [UInt8](repeating: 48, count: max(0, width - 1 - digits.count)) + digits
            put(digits, at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(UInt64(mode & 0o7777), at: 100, width: 8)
        octal(0, at: 108, width: 8)  // uid
        octal(0, at: 116, width: 8)  // gid
        octal(size, at: 124, width: 12)
        octal(UInt64(max(0, mtime)), at: 136, width: 12)
        header[156] = type.rawValue
        put(linkName, at: 157, width: 100)
        put(Array("ustar\u{0}00".utf8), at: 257, width: 8)
        octal(0, at: 329, width: 8)  // devmajor
        octal(0, at: 337, width: 8)  // devminor
        put(prefix, at: 345, width: 155)
        // The checksum is computed with its own field as eight spaces.
        for index in 148..<156 { header[index] = 32 }
        let sum = header.reduce(0) { $0 + Int($1) }
        var digits = Array(String(sum, radix: 8).utf8)
        digits = [UInt8](repeating: 48, count: max(0, 6 - digits.count)) + digits
        put(digits + [0, 32], at: 148, width: 8)
        return header
    }
}
