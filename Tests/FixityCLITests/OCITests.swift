import Foundation
import Testing

/// `oci export` and `oci import` against independent tools: umoci unpacks what we export, skopeo
/// reads and copies it, Python's tarfile writes the images we import (hostile ones included).
@Suite struct OCITests {
    /// A tree with what image layers find hard: an executable, a symlink, a path over 100 bytes.
    func tree(_ sandbox: Sandbox, _ dir: String = "src") throws {
        let long = String(repeating: "x", count: 90) + "/" + String(repeating: "y", count: 90)
        try sandbox.sh(
            """
            mkdir -p \(dir)/bin \(dir)/etc \(dir)/\(long) && echo hi > \(dir)/etc/app.conf && printf '#!/bin/sh\\necho run\\n' > \(dir)/bin/run \
            && chmod 755 \(dir)/bin/run && chmod 700 \(dir)/etc && ln -s ../etc/app.conf \(dir)/bin/conf && head -c 200000 /dev/urandom > \(dir)/blob \
            && echo deep > \(dir)/\(long)/\(String(repeating: "z", count: 120))
            """)
    }

    /// Paths, types, modes, sizes, link targets and content digests, sorted: a tree's identity.
    func listing(_ sandbox: Sandbox, _ dir: String) throws -> String {
        try sandbox.sh(
            "cd '\(dir)' && find . -mindepth 1 -printf '%P %y %m %s %l\\n' | grep -v ' d .* ' | sort; find . -mindepth 1 -type d -printf '%P %m\\n' | sort; find . -type f -exec sha256sum {} + | sort"
        ).stdout
    }

    func imageDigest(_ result: RunResult) -> String { result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test func exportIsReproducibleAcrossRunsAndStores() throws {
        let sandbox = try Sandbox()
        try tree(sandbox)
        try sandbox.sh("cp -a src src-copy")
        _ = try sandbox.seal("src", app: "web", extra: ["--tag", "1"])
        _ = try sandbox.seal("src-copy", app: "web", extra: ["--tag", "1"], store: "\(sandbox.root)/store2")
        let args = ["--cmd", "/bin/run", "--env", "MODE=prod", "--workdir", "/"]
        let first = try sandbox.fixity(["oci", "export", "web@1", "--out", "a"] + args)
        let second = try sandbox.fixity(["oci", "export", "web@1", "--out", "b"] + args)
        let other = try sandbox.fixity(
            ["oci", "export", "web@1", "--out", "c"] + args, store: "\(sandbox.root)/store2")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(imageDigest(first).hasPrefix("sha256:"))
        #expect(imageDigest(first) == imageDigest(second) && imageDigest(first) == imageDigest(other))
        #expect(try sandbox.sh("diff -r a b && diff -r a c && echo same").stdout == "same\n")
        // SOURCE_DATE_EPOCH is part of the input: another date, another (still reproducible) digest.
        let dated = try sandbox.sh(
            "SOURCE_DATE_EPOCH=1700000000 '\(Sandbox.binary)' oci export web@1 --out d --store store --cmd /bin/run --env MODE=prod --workdir /"
        ).stdout
        #expect(dated.trimmingCharacters(in: .whitespacesAndNewlines) != imageDigest(first))
        // An existing --out is refused and left alone.
        let again = try sandbox.fixity("oci", "export", "web@1", "--out", "a")
        #expect(again.status == 2 && again.stderr.contains("already exists"))
    }

    @Test func umociAndSkopeoReadWhatWeExport() throws {
        let sandbox = try Sandbox()
        try tree(sandbox)
        let release = try sandbox.seal("src", app: "web", extra: ["--tag", "1"])
        let digest = imageDigest(
            try sandbox.fixity("oci", "export", "web@1", "--out", "img", "--ref-name", "v1", "--entrypoint", "/bin/run")
        )
        try sandbox.sh("umoci unpack --rootless --image img:v1 bundle")
        #expect(try listing(sandbox, "bundle/rootfs") == listing(sandbox, "src"))
        let inspect = try sandbox.sh("skopeo inspect oci:img:v1").stdout
        #expect(inspect.contains(digest))
        let config = try sandbox.sh("skopeo inspect --config oci:img:v1").stdout
        #expect(config.contains("/bin/run") && config.contains("1970-01-01T00:00:00Z"))
        // A copy by an independent client keeps the digest, and imports back as the same release.
        try sandbox.sh("skopeo copy oci:img:v1 oci:copied:v1")
        #expect(try sandbox.sh("skopeo inspect oci:copied:v1").stdout.contains(digest))
        let imported = try sandbox.fixity("oci", "import", "copied", "--app", "web-image", "--json")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try imported.json()["release"] as? String == release)
        #expect(try sandbox.fixity("log", "verify").status == 0)
        let log = try sandbox.fixity("log").stdout
        #expect(log.contains("oci-export") && log.contains("oci-import") && log.contains(digest))
    }

    @Test func aReleaseOnAPinnedBaseAndWhiteouts() throws {
        let sandbox = try Sandbox()
        let base = try LayoutFixture.make(
            sandbox, name: "base",
            layers: [
                [
                    ["dir", "usr", ""], ["dir", "usr/lib", ""], ["file", "usr/lib/libc.so", "libc"],
                    ["file", "usr/lib/old.so", "old"], ["dir", "tmp", ""], ["file", "tmp/junk", "x"],
                ],
                [["file", "usr/lib/.wh.old.so", ""], ["file", "tmp/.wh..wh..opq", ""], ["file", "tmp/kept", "new"]],
            ])
        // Unpinned bases are refused: a tag can move, a base must not.
        try sandbox.sh("mkdir app && echo app > app/main")
        _ = try sandbox.seal("app", app: "web", extra: ["--tag", "1"])
        let unpinned = try sandbox.fixity("oci", "export", "web@1", "--out", "img", "--base", "base")
        #expect(unpinned.status == 2 && unpinned.stderr.contains("pinned by digest"), "\(unpinned.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.root)/img"))
        let export = try sandbox.fixity(
            "oci", "export", "web@1", "--out", "img", "--base", "base@\(base)", "--ref-name", "v1")
        #expect(export.status == 0, "\(export.stderr)")
        try sandbox.sh("umoci unpack --rootless --image img:v1 bundle")
        let unpacked = try sandbox.sh("cd bundle/rootfs && find . -type f | sort").stdout
        #expect(unpacked == "./main\n./tmp/kept\n./usr/lib/libc.so\n", "\(unpacked)")
        // Import flattens the same way umoci does.
        let imported = try sandbox.fixity("oci", "import", "img", "--app", "flat")
        #expect(imported.status == 0, "\(imported.stderr)")
        let files =
            try sandbox.fixity("show", imageDigest(imported), "--json").json()["entries"] as? [[String: Any]] ?? []
        #expect(
            files.compactMap { $0["type"] as? String == "file" ? $0["path"] as? String : nil }.sorted() == [
                "main", "tmp/kept", "usr/lib/libc.so",
            ])
    }

    @Test(arguments: [
        ("escape", [["file", "../escape", "x"]], "'..' component"),
        ("absolute", [["file", "/etc/passwd", "x"]], "absolute path"),
        ("hardlink outside", [["hardlink", "passwd", "../../etc/passwd"]], "'..' component"),
        ("hardlink to nothing", [["hardlink", "copy", "missing"]], "not a file in the image"),
        ("fifo", [["fifo", "pipe", ""]], "FIFO"),
        ("device", [["chardev", "null", ""]], "character device"),
        (
            "through a symlink", [["symlink", "lib", "/usr/lib"], ["file", "lib/evil.so", "x"]],
            "passes through the symlink"
        ),
    ])
    func hostileLayersAreRefused(_ name: String, _ members: [[String]], _ message: String) throws {
        let sandbox = try Sandbox()
        try LayoutFixture.make(sandbox, name: "img", layers: [members])
        let result = try sandbox.fixity("oci", "import", "img", "--app", "x")
        #expect(result.status == 2 && result.stderr.contains(message), "\(name): \(result.stderr)")
        // Nothing recorded: no release, and the ledger has no import.
        #expect((try sandbox.fixity("releases", "--json").json()["releases"] as? [Any])?.isEmpty == true)
        #expect(!(try sandbox.fixity("log").stdout.contains("oci-import")))
        #expect(
            try sandbox.sh("find . -name escape -o -name evil.so | wc -l").stdout.trimmingCharacters(in: .whitespaces)
                == "0\n")
    }

    @Test(arguments: [
        ("diff_id", "diff_id says"), ("layer_digest", "does not match its digest"),
        ("media_type", "unsupported media type"),
    ])
    func tamperedImagesAreRefused(_ tamper: String, _ message: String) throws {
        let sandbox = try Sandbox()
        try LayoutFixture.make(sandbox, name: "img", layers: [[["file", "a", "x"]]], tamper: tamper)
        let result = try sandbox.fixity("oci", "import", "img", "--app", "x")
        #expect(result.status == 2 && result.stderr.contains(message), "\(tamper): \(result.stderr)")
        #expect((try sandbox.fixity("releases", "--json").json()["releases"] as? [Any])?.isEmpty == true)
    }

    /// A small layer that expands past the cap is refused with nothing recorded (a gzip bomb
    /// would otherwise fill the store's disk); the cap is the operator's to raise.
    @Test func importStopsAtTheExpandedSizeCap() throws {
        let sandbox = try Sandbox()
        try LayoutFixture.make(sandbox, name: "img", layers: [[["zeros", "big", String(48 << 20)]]])
        #expect(
            try sandbox.sh("du -sk img/blobs | cut -f1").stdout.trimmingCharacters(in: .whitespacesAndNewlines).count
                < 4, "the bomb should be small")
        let refused = try sandbox.fixity("oci", "import", "img", "--app", "x", "--max-size", "16M")
        #expect(refused.status == 2 && refused.stderr.contains("expands past 16777216 bytes"), "\(refused.stderr)")
        #expect((try sandbox.fixity("releases", "--json").json()["releases"] as? [Any])?.isEmpty == true)
        #expect(try sandbox.fixity("oci", "import", "img", "--app", "x", "--max-size", "64M").status == 0)
        #expect(try sandbox.fixity("oci", "import", "img", "--app", "y", "--max-size", "lots").status == 64)
    }

    /// setuid/setgid bits are stripped unless --keep-setid says otherwise.
    @Test func setidBitsAreStrippedUnlessKept() throws {
        let sandbox = try Sandbox()
        try LayoutFixture.make(sandbox, name: "img", layers: [[["setuid", "su", "#!/bin/sh\n"]]])
        #expect(try sandbox.fixity("oci", "import", "img", "--app", "x", "--tag", "1").status == 0)
        let plain = try sandbox.fixity("show", "x@1", "--json").json()["entries"] as? [[String: Any]]
        #expect(plain?.first?["mode"] as? String == "0755")
        #expect(try sandbox.fixity("oci", "import", "img", "--app", "y", "--tag", "1", "--keep-setid").status == 0)
        let kept = try sandbox.fixity("show", "y@1", "--json").json()["entries"] as? [[String: Any]]
        #expect(kept?.first?["mode"] as? String == "6755")
    }

    /// A layout image named as skopeo and umoci name it, DIR:NAME (the ref.name annotation).
    @Test func importTakesALayoutNameAsSkopeoDoes() throws {
        let sandbox = try Sandbox()
        let release = try DeployTests.releases(sandbox, 1)[0]
        #expect(try sandbox.fixity("oci", "export", "app@1", "--out", "img", "--ref-name", "v1").status == 0)
        let imported = try sandbox.fixity("oci", "import", "img:v1", "--app", "copy", "--json")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try imported.json()["release"] as? String == release)
        let missing = try sandbox.fixity("oci", "import", "img:v2", "--app", "copy")
        #expect(missing.status == 2 && missing.stderr.contains("named 'v2'"), "\(missing.stderr)")
    }
}
