import FixityCore
import Testing

/// The tar writer and reader agree, across ustar, the ustar prefix split and PAX headers.
@Suite struct TarTests {
    func archive(_ members: [(String, TarHeader.TypeFlag, [UInt8], String)]) -> [UInt8] {
        var out = [UInt8]()
        for (name, type, content, link) in members {
            out += TarHeader.encode(
                name: name, type: type, mode: type == .directory ? 0o755 : 0o640, size: UInt64(content.count),
                linkName: link, mtime: 1_700_000_000)
            out += content + [UInt8](repeating: 0, count: TarHeader.padding(UInt64(content.count)))
        }
        return out + TarHeader.end
    }

    func read(_ bytes: [UInt8]) throws -> [(TarReader.Entry, [UInt8])] {
        var offset = 0
        var reader = TarReader { count in
            let end = min(bytes.count, offset + count)
            defer { offset = end }
            return Array(bytes[offset..<end])
        }
        var out = [(TarReader.Entry, [UInt8])]()
        while let entry = try reader.next() {
            var content = [UInt8]()
            while case let chunk = try reader.readContent(max: 7), !chunk.isEmpty { content += chunk }
            out.append((entry, content))
        }
        return out
    }

    @Test func roundTripsEveryKindOfName() throws {
        let split = String(repeating: "a", count: 120) + "/" + String(repeating: "b", count: 90)
        let pax = String(repeating: "c", count: 300) + "/ü"
        let members: [(String, TarHeader.TypeFlag, [UInt8], String)] = [
            ("dir/", .directory, [], ""), ("dir/file", .file, Array("hello, tar".utf8), ""),
            (split, .file, [1, 2, 3], ""),
            (pax, .file, Array(repeating: 9, count: 1000), ""),
            ("link", .symlink, [], String(repeating: "t", count: 150)),
        ]
        let entries = try read(archive(members))
        #expect(entries.map(\.0.name) == members.map(\.0))
        #expect(entries.map(\.1) == members.map(\.2))
        #expect(entries[4].0.type == .symlink && entries[4].0.linkName == members[4].3)
        #expect(entries[1].0.mode == 0o640 && entries[0].0.type == .directory)
    }

    @Test func aCorruptHeaderOrATruncatedArchiveIsAnError() {
        var bytes = archive([("f", .file, [1, 2, 3], "")])
        bytes[10] ^= 1
        #expect(throws: TarReader.FormatError.self) { try read(bytes) }
        let whole = archive([("f", .file, Array(repeating: 1, count: 600), "")])
        #expect(throws: TarReader.FormatError.self) { try read(Array(whole.prefix(700))) }
    }

    @Test func paxRecordLengthsCountThemselves() {
        for length in [1, 5, 90, 95, 96, 989, 994, 995] {
            let record = String(
                decoding: TarHeader.encode(
                    name: String(repeating: "x", count: length) + "/" + String(repeating: "y", count: 101), type: .file,
                    mode: 0o644, size: 0, mtime: 0
                ).dropFirst(512).prefix { $0 != 0 }, as: UTF8.self)
            if let space = record.firstIndex(of: " ") {
                #expect(Int(record[..<space]) == record.utf8.count, "\(length)")
            }
        }
    }
}
