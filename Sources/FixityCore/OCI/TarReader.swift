/// A streaming reader of tar archives as image layers use them: ustar, PAX (`x` local and `g`
/// global headers: `path`, `linkpath`, `size`) and GNU long names (`L`, `K`). It reports what the
/// archive says, checksum-checked; deciding what is acceptable (paths, types, links) is the
/// importer's job.
public struct TarReader {
    public enum EntryType: Equatable, Sendable {
        case file
        case directory
        case symlink
        case hardLink
        /// Character or block devices, FIFOs, and anything else: never part of a release.
        case special(String)
    }

    public struct Entry: Sendable {
        /// As archived: may start with `./` or `/`, may end with `/`.
        public let name: String
        public let type: EntryType
        public let mode: UInt32
        public let size: UInt64
        public let linkName: String
    }

    public struct FormatError: FixityError, Sendable {
        public let message: String
        public var category: ErrorCategory { .badInput }
        init(_ message: String) { self.message = message }
    }

    /// Reads exactly `count` bytes, or fewer only at the end of the input.
    public typealias Read = (_ count: Int) throws -> [UInt8]

    private let read: Read
    private var remaining: UInt64 = 0
    private var pad = 0
    private var ended = false
    /// Offset of the current header, for messages.
    public private(set) var offset: UInt64 = 0

    public init(read: @escaping Read) { self.read = read }

    /// The next entry, nil at the end of the archive. Unread content of the previous one is skipped.
    public mutating func next() throws -> Entry? {
        try skipContent()
        var paxPath: String?
        var paxLink: String?
        var paxSize: UInt64?
        while !ended {
            let header = try read(TarHeader.blockSize)
            offset += UInt64(header.count)
            if header.count == 0 { throw FormatError("the archive ends without its end-of-archive blocks") }
            guard header.count == TarHeader.blockSize else {
                throw FormatError("the archive is truncated inside a header at byte \(offset)")
            }
            if header.allSatisfy({ $0 == 0 }) {
                ended = true
                return nil
            }
            try checkChecksum(header)
            let typeByte = header[156]
            var size = try Self.number(header[124..<136], field: "size")
            if let paxSize, typeByte != 120, typeByte != 103 { size = paxSize }
            switch typeByte {
            case 120, 103:  // 'x' local, 'g' global PAX header
                let records = try readAll(size)
                let fields = try Self.paxFields(records)
                if typeByte == 120 {
                    if let value = fields["path"] { paxPath = value }
                    if let value = fields["linkpath"] { paxLink = value }
                    if let value = fields["size"] {
                        guard let parsed = UInt64(value) else {
                            throw FormatError("PAX size '\(value)' is not a number")
                        }
                        paxSize = parsed
                    }
                }
                continue
            case 76, 75:  // GNU 'L' long name, 'K' long link name
                let value = try Self.string(
                    Array(try readAll(size).prefix { $0 != 0 }), field: typeByte == 76 ? "long name" : "long link name")
                if typeByte == 76 { paxPath = value } else { paxLink = value }
                continue
            default: break
            }
            var name = try Self.string(Array(header[0..<100].prefix { $0 != 0 }), field: "name")
            let magic = Array(header[257..<262])
            if magic == Array("ustar".utf8) {
                let prefix = try Self.string(Array(header[345..<500].prefix { $0 != 0 }), field: "prefix")
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            if let paxPath { name = paxPath }
            let link = try paxLink ?? Self.string(Array(header[157..<257].prefix { $0 != 0 }), field: "link name")
            let mode = UInt32(truncatingIfNeeded: try Self.number(header[100..<108], field: "mode"))
            let type: EntryType
            switch typeByte {
            case 48, 0, 55: type = .file  // '0', old '\0', '7' contiguous
            case 53: type = .directory
            case 50: type = .symlink
            case 49: type = .hardLink
            case 51: type = .special("character device")
            case 52: type = .special("block device")
            case 54: type = .special("FIFO")
            default: type = .special("tar entry type '\(Unicode.Scalar(typeByte))'")
            }
            // Only regular files carry content; a size on anything else is skipped, not trusted.
            remaining = size
            pad = TarHeader.padding(size)
            return Entry(name: name, type: type, mode: mode & 0o7777, size: type == .file ? size : 0, linkName: link)
        }
        return nil
    }

    /// Up to `max` bytes of the current entry's content; empty at its end.
    public mutating func readContent(max: Int) throws -> [UInt8] {
        guard remaining > 0 else { return [] }
        let count = Int(min(UInt64(max), remaining))
        let bytes = try read(count)
        guard bytes.count == count else {
            throw FormatError("the archive is truncated inside a member at byte \(offset)")
        }
        remaining -= UInt64(count)
        offset += UInt64(count)
        return bytes
    }

    private mutating func skipContent() throws {
        while remaining > 0 { _ = try readContent(max: 1 << 20) }
        if pad > 0 {
            let bytes = try read(pad)
            guard bytes.count == pad else { throw FormatError("the archive is truncated at byte \(offset)") }
            offset += UInt64(pad)
            pad = 0
        }
    }

    private mutating func readAll(_ size: UInt64) throws -> [UInt8] {
        guard size <= 1 << 20 else {
            throw FormatError("an extended header of \(size) bytes at byte \(offset) is implausibly large")
        }
        remaining = size
        pad = TarHeader.padding(size)
        var out = [UInt8]()
        while remaining > 0 { out += try readContent(max: Int(remaining)) }
        try skipContent()
        return out
    }

    private func checkChecksum(_ header: [UInt8]) throws {
        let stored = try Self.number(header[148..<156], field: "checksum")
        var unsigned = 0
        var signed = 0
        for (index, byte) in header.enumerated() {
            let value = (148..<156).contains(index) ? 32 : byte
            unsigned += Int(value)
            signed += Int(Int8(bitPattern: value))
        }
        guard stored == UInt64(unsigned) || Int(stored) == signed else {
            throw FormatError("bad header checksum at byte \(offset - 512)")
        }
    }

    /// An octal field (NUL/space terminated), or GNU base-256 when the top bit is set.
    static func number(_ field: ArraySlice<UInt8>, field name: String) throws -> UInt64 {
        if let first = field.first, first & 0x80 != 0 {
            var value: UInt64 = UInt64(first & 0x7f)
            for byte in field.dropFirst() {
                guard value >> 56 == 0 else { throw FormatError("tar \(name) field overflows") }
                value = value << 8 | UInt64(byte)
            }
            return value
        }
        var value: UInt64 = 0
        var seenDigit = false
        for byte in field {
            if byte == 0 || (byte == 32 && seenDigit) { break }
            if byte == 32 { continue }
            guard byte >= 48, byte <= 55 else { throw FormatError("tar \(name) field is not octal") }
            guard value >> 60 == 0 else { throw FormatError("tar \(name) field overflows") }
            value = value << 3 | UInt64(byte - 48)
            seenDigit = true
        }
        return value
    }

    static func string(_ bytes: [UInt8], field: String) throws -> String {
        guard let value = String(validating: bytes, as: UTF8.self) else {
            throw FormatError(
                "a tar \(field) is not valid UTF-8 (\(bytes.prefix(40).map { $0 < 128 && $0 >= 32 ? String(Unicode.Scalar($0)) : "\\x" + Hex.encode([$0]) }.joined()))"
            )
        }
        return value
    }

    static func paxFields(_ records: [UInt8]) throws -> [String: String] {
        var fields = [String: String]()
        var index = 0
        while index < records.count {
            guard let space = records[index...].firstIndex(of: 32),
                let length = Int(String(decoding: records[index..<space], as: UTF8.self)),
                length > 0, index + length <= records.count, records[index + length - 1] == 10
            else { throw FormatError("malformed PAX record") }
            let body = records[(space + 1)..<(index + length - 1)]
            guard let equals = body.firstIndex(of: 61) else { throw FormatError("malformed PAX record") }
            let key = try string(Array(body[body.startIndex..<equals]), field: "PAX key")
            fields[key] = try string(Array(body[(equals + 1)...]), field: "PAX \(key)")
            index += length
        }
        return fields
    }
}
