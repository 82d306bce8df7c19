import Foundation
import Testing

/// Same tree, same id: whatever the creation order, mtimes, owners, umask or store.
@Suite struct ReproducibilityTests {
    /// Files of the test tree: path, mode, content. Created by `makeTree` in the order given.
    static let files: [(String, String, String)] = [
        ("bin/run", "755", "#!/bin/sh\\necho run\\n"),
        ("lib/a.txt", "644", "alpha\\n"),
        ("lib/sub/b.bin", "644", "\\001\\002\\003binary"),
        ("README", "644", "read me\\n"),
        ("share/secret", "600", "s3cret\\n"),
        ("share/setgid-dir/x", "640", "x"),
    ]

    static func makeTree(_ sandbox: Sandbox, _ name: String, reversed: Bool, umask: String, mtime: String?) throws {
        var script = "set -e; umask \(umask); mkdir -p \(name) && cd \(name)\n"
        for (path, mode, content) in reversed ? files.reversed() : files {
            script += "mkdir -p \"$(dirname '\(path)')\"; printf '\(content)' > '\(path)'; chmod \(mode) '\(path)'\n"
        }
        script += "mkdir -p empty; ln -s a.txt lib/link; ln -s /usr/bin/python3 bin/python\n"
        script += "chmod 755 . bin lib lib/sub share empty; chmod 2750 share/setgid-dir\n"
        if let mtime { script += "find . -exec touch -h -d '\(mtime)' {} +\n" }
        try sandbox.sh(script)
    }

    @Test func sameTreeBuiltDifferentlyGivesTheSameID() throws {
        let sandbox = try Sandbox()
        try Self.makeTree(sandbox, "one", reversed: false, umask: "022", mtime: nil)
        try Self.makeTree(sandbox, "two", reversed: true, umask: "077", mtime: "2001-02-03 04:05:06")
        if Sandbox.isRoot { try sandbox.sh("chown -R -h 1234:4321 two") }
        let first = try sandbox.seal("one")
        let secondResult = try Sandbox.run(
            "/bin/sh", ["-c", "umask 077; '\(Sandbox.binary)' seal two --app other --store '\(sandbox.root)/store2'"],
            in: sandbox.root)
        #expect(secondResult.status == 0, "\(secondResult.stderr)")
        #expect(first.hasPrefix("sha256:"))
        #expect(secondResult.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == first)
    }

    @Test(arguments: [
        ("one byte", "printf 'alphA\\n' > lib/a.txt"),
        ("one permission bit", "chmod 645 lib/a.txt"),
        ("one directory permission bit", "chmod 750 lib"),
        ("a symlink target", "ln -sfn b.txt lib/link"),
        ("an empty directory", "mkdir more-empty"),
        ("a file renamed", "mv README README.md"),
        ("an empty file", ": > lib/zero"),
    ])
    func everyChangeGivesADifferentID(_ change: String, _ script: String) throws {
        let sandbox = try Sandbox()
        try Self.makeTree(sandbox, "tree", reversed: false, umask: "022", mtime: nil)
        let before = try sandbox.seal("tree")
        try sandbox.sh("cd tree && \(script)")
        let after = try sandbox.seal("tree")
        #expect(before != after, "\(change) did not change the id")
    }

    @Test func fileDigestsEqualSha256sum() throws {
        let sandbox = try Sandbox()
        try Self.makeTree(sandbox, "tree", reversed: false, umask: "022", mtime: nil)
        try sandbox.sh("head -c 3000000 /dev/urandom > tree/big.bin")  // larger than one read buffer
        let id = try sandbox.seal("tree")
        let show = try sandbox.fixity("show", id, "--json").json()
        let entries = try #require(show["entries"] as? [[String: Any]])
        let files = entries.filter { $0["type"] as? String == "file" }
        #expect(files.count == Self.files.count + 1)
        for entry in files {
            let path = try #require(entry["path"] as? String)
            let expected = try sandbox.sh("sha256sum 'tree/\(path)' | cut -c1-64").stdout.trimmingCharacters(
                in: .whitespacesAndNewlines)
            #expect(entry["digest"] as? String == "sha256:\(expected)", "\(path)")
        }
    }

    @Test func exportThenResealGivesTheSameIDWithExactModes() throws {
        let sandbox = try Sandbox()
        try Self.makeTree(sandbox, "tree", reversed: false, umask: "022", mtime: nil)
        let id = try sandbox.seal("tree")
        let export = try Sandbox.run(
            "/bin/sh", ["-c", "umask 077; '\(Sandbox.binary)' export \(id) out --store store"], in: sandbox.root)
        #expect(export.status == 0, "\(export.stderr)")
        #expect(try sandbox.seal("out", store: "\(sandbox.root)/fresh-store") == id)
        #expect(
            try sandbox.sh("stat -c %a out/share/setgid-dir out/share/secret out/bin/run").stdout == "2750\n600\n755\n")
        #expect(try sandbox.sh("readlink out/bin/python").stdout == "/usr/bin/python3\n")
    }
}
