import FixityCore
import Testing

let blobA = Digest.of(Array("a".utf8))
let blobB = Digest.of(Array("b".utf8))

@Suite struct ManifestEncodingTests {
    @Test func canonicalBytesAreExactlyAsDocumented() throws {
        let manifest = try Manifest(entries: [
            .directory("bin", mode: 0o755),
            .file("bin/server", mode: 0o755, size: 1, digest: blobA),
            .symlink("python", target: "/usr/bin/python3"),
            .directory("var", mode: 0o1777),
        ])
        let expected = """
            fixity-manifest 1
            dir\t0755\t0\t-\tbin
            file\t0755\t1\t\(blobA)\tbin/server
            symlink\t0777\t16\t/usr/bin/python3\tpython
            dir\t1777\t0\t-\tvar

            """
        #expect(String(decoding: manifest.bytes, as: UTF8.self) == expected)
        #expect(manifest.id == ReleaseID(Digest.of(Array(expected.utf8))))
    }

    @Test func knownAnswerReleaseIDIsStable() throws {
        // Pinned: if this changes, every release id ever sealed changes. Never update it casually.
        let manifest = try Manifest(entries: [
            .directory("a", mode: 0o755), .file("a/b", mode: 0o644, size: 1, digest: blobA),
        ])
        // Computed independently: printf 'fixity-manifest 1\ndir\t0755\t0\t-\ta\nfile\t0644\t1\tsha256:<sha256 of "a">\ta/b\n' | sha256sum
        #expect(manifest.id.description == "sha256:b5a91c0e2ac89a5ba2ab1aeefcf7c754c714cd2edf586140d46e85535945e680")
    }

    @Test func emptyTreeIsJustTheHeader() throws {
        let manifest = try Manifest(entries: [])
        #expect(manifest.bytes == Array("fixity-manifest 1\n".utf8))
    }

    @Test func parsingTheEncodingGivesBackTheSameManifest() throws {
        let manifest = try Manifest(entries: [
            .directory("a", mode: 0o755), .file("a/x", mode: 0o600, size: 1, digest: blobA),
            .directory("a-b", mode: 0o700),
            .file("a-b/ü n i c ø d e", mode: 0o644, size: 1, digest: blobB),
            .symlink("link", target: "../up with space"),
        ])
        let parsed = try UnverifiedManifest(bytes: manifest.bytes).verified()
        #expect(parsed.entries == manifest.entries)
        #expect(parsed.id == manifest.id)
    }

    @Test func canonicalOrderRanksSlashBelowEveryByte() {
        #expect(EntryPath.precedes("a", "a/x"))
        #expect(EntryPath.precedes("a/x", "a-b"))
        #expect(EntryPath.precedes("a/zzz", "a.b"))
        #expect(!EntryPath.precedes("a", "a"))
        #expect(EntryPath.precedes("B", "a"))  // bytewise: uppercase first
    }

    @Test func unicodeNormalizationFormsAreDistinctPaths() throws {
        // "é" precomposed and decomposed are different names on disk, so different entries.
        let nfc = "caf\u{e9}"
        let nfd = "cafe\u{301}"
        let (first, second) = EntryPath.precedes(nfc, nfd) ? (nfc, nfd) : (nfd, nfc)
        let manifest = try Manifest(entries: [
            .file(first, mode: 0o644, size: 1, digest: blobA), .file(second, mode: 0o644, size: 1, digest: blobB),
        ])
        #expect(manifest.entries.count == 2)
        #expect(manifest.entry(at: nfd)?.digest == (first == nfd ? blobA : blobB))
        let retargeted = try Manifest(entries: [.symlink("l", target: nfd)])
        #expect(
            ManifestDiff(from: try Manifest(entries: [.symlink("l", target: nfc)]), to: retargeted).modified == ["l"])
    }
}

@Suite struct ManifestValidationTests {
    static let header = "fixity-manifest 1\n"
    static let dirA = "dir\t0755\t0\t-\ta\n"
    static let fileA = "file\t0644\t1\t\(blobA)\ta\n"

    /// Each hostile or malformed manifest, named after the attack, with a fragment of the expected message.
    static let hostile: [(name: String, text: String, problem: String)] = [
        ("dot-dot component", header + "file\t0644\t1\t\(blobA)\t..\n", "'..'"),
        ("dot-dot inside path", header + dirA + "file\t0644\t1\t\(blobA)\ta/../../etc/passwd\n", "'..'"),
        ("absolute path", header + "file\t0644\t1\t\(blobA)\t/etc/passwd\n", "absolute"),
        ("dot component", header + dirA + "file\t0644\t1\t\(blobA)\ta/./x\n", "'.'"),
        ("empty component", header + dirA + "file\t0644\t1\t\(blobA)\ta//x\n", "empty path component"),
        ("trailing slash", header + "dir\t0755\t0\t-\ta/\n", "empty path component"),
        ("duplicate entry", header + fileA + fileA, "duplicate"),
        ("unsorted entries", header + "file\t0644\t1\t\(blobA)\tb\n" + fileA, "order"),
        (
            "path under a symlink", header + "symlink\t0777\t4\t/etc\ta\n" + "file\t0644\t1\t\(blobA)\ta/passwd\n",
            "not a directory"
        ),
        ("path under a file", header + fileA + "file\t0644\t1\t\(blobA)\ta/x\n", "not a directory"),
        ("missing parent", header + "file\t0644\t1\t\(blobA)\tmissing/x\n", "not a directory"),
        ("control character", header + "file\t0644\t1\t\(blobA)\ta\u{1b}[2J\n", "control character"),
        ("unknown type", header + "fifo\t0644\t0\t-\ta\n", "unknown type"),
        ("mode not octal", header + "file\t0648\t1\t\(blobA)\ta\n", "mode"),
        ("mode too short", header + "file\t644\t1\t\(blobA)\ta\n", "mode"),
        ("mode with file type bits", header + "file\t100644\t1\t\(blobA)\ta\n", "mode"),
        ("size with leading zero", header + "file\t0644\t01\t\(blobA)\ta\n", "size"),
        ("negative size", header + "file\t0644\t-1\t\(blobA)\ta\n", "size"),
        ("uppercase digest", header + "file\t0644\t1\tsha256:\(blobA.hex.uppercased())\ta\n", "sha256"),
        ("dir with content", header + "dir\t0755\t1\t-\ta\n", "dir"),
        ("symlink size lies", header + "symlink\t0777\t9\t/etc\ta\n", "byte length"),
        ("symlink with mode", header + "symlink\t0755\t4\t/etc\ta\n", "0777"),
        ("empty symlink target", header + "symlink\t0777\t0\t\ta\n", "empty symlink target"),
        ("too few fields", header + "file\t0644\t1\ta\n", "5 TAB-separated"),
        ("too many fields", header + "file\t0644\t1\t\(blobA)\ta\tb\n", "5 TAB-separated"),
        ("wrong header", "fixity-manifest 2\n" + fileA, "header"),
        ("no trailing newline", header + String(fileA.dropLast()), "newline"),
        ("blank line", header + fileA + "\n", "5 TAB-separated"),
        ("CRLF line", header + "file\t0644\t1\t\(blobA)\ta\r\n", "control character"),
    ]

    @Test(arguments: hostile.indices)
    func hostileManifestIsRefusedNamingTheProblem(_ index: Int) {
        let (name, text, problem) = Self.hostile[index]
        do {
            _ = try UnverifiedManifest(bytes: Array(text.utf8)).verified()
            Issue.record("\(name): accepted")
        } catch {
            #expect(error.description.contains(problem), "\(name): \(error.description)")
        }
    }

    @Test func nonUTF8PathIsRefused() {
        var bytes = Array((Self.header + "file\t0644\t1\t\(blobA)\ta").utf8)
        bytes += [0xff, 0x0a]
        #expect(throws: ManifestError.self) { try UnverifiedManifest(bytes: bytes).verified() }
    }

    @Test func entriesBuiltInMemoryAreValidatedToo() {
        #expect(throws: ManifestError.self) {
            try Manifest(entries: [
                .file("b", mode: 0o644, size: 1, digest: blobA), .file("a", mode: 0o644, size: 1, digest: blobA),
            ])
        }
        #expect(throws: ManifestError.self) {
            try Manifest(entries: [.file("../x", mode: 0o644, size: 1, digest: blobA)])
        }
    }

    @Test func everySingleByteFlipIsRefusedOrChangesTheID() throws {
        let manifest = try Manifest(entries: [
            .directory("a", mode: 0o755), .file("a/x", mode: 0o644, size: 1, digest: blobA),
        ])
        for index in manifest.bytes.indices {
            var corrupted = manifest.bytes
            corrupted[index] ^= 0x01
            if let parsed = try? UnverifiedManifest(bytes: corrupted).verified() {
                #expect(parsed.id != manifest.id)
                #expect(parsed.bytes == corrupted)
            }
        }
    }
}

@Suite struct ManifestDiffTests {
    @Test func diffClassifiesEveryKindOfChange() throws {
        let old = try Manifest(entries: [
            .file("changed", mode: 0o644, size: 1, digest: blobA), .file("chmod", mode: 0o644, size: 1, digest: blobA),
            .file("gone", mode: 0o644, size: 1, digest: blobA), .symlink("link", target: "a"),
            .file("retyped", mode: 0o644, size: 1, digest: blobA),
            .file("same", mode: 0o644, size: 1, digest: blobA),
        ])
        let new = try Manifest(entries: [
            .file("changed", mode: 0o644, size: 1, digest: blobB), .file("chmod", mode: 0o755, size: 1, digest: blobA),
            .directory("fresh", mode: 0o755), .symlink("link", target: "b"), .directory("retyped", mode: 0o755),
            .file("same", mode: 0o644, size: 1, digest: blobA),
        ])
        let diff = ManifestDiff(from: old, to: new)
        #expect(diff.added == ["fresh"])
        #expect(diff.removed == ["gone"])
        #expect(diff.modified == ["changed", "link"])
        #expect(diff.modeChanged == ["chmod"])
        #expect(diff.typeChanged == ["retyped"])
        #expect(ManifestDiff(from: old, to: old).isEmpty)
    }
}
