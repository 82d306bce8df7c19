import FixityCore
import Foundation
import Testing

/// The inspection and naming commands, checked through their --json contract.
@Suite struct CommandTests {
    func twoReleases(_ sandbox: Sandbox) throws -> (String, String) {
        try sandbox.sh(
            "mkdir -p tree/lib tree/bin && echo one > tree/lib/a && echo keep > tree/lib/k && echo run > tree/bin/run && ln -s a tree/lib/l"
        )
        let v1 = try sandbox.seal("tree", extra: ["--tag", "1"])
        try sandbox.sh(
            "cd tree && echo two > lib/a && rm lib/k && echo new > lib/n && chmod 755 bin/run && rm lib/l && mkdir lib/l"
        )
        let v2 = try sandbox.seal("tree", extra: ["--tag", "2"])
        return (v1, v2)
    }

    @Test func sealJSONCarriesTheContractFields() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir tree && echo hello > tree/a && echo hello > tree/same && echo x > tree/b")
        let json = try sandbox.fixity("seal", "tree", "--app", "web", "--tag", "1.0", "--json").json()
        #expect((json["release"] as? String)?.hasPrefix("sha256:") == true)
        #expect(json["files"] as? Int == 3)
        #expect(json["bytes"] as? Int == 14)
        #expect(json["new_blobs"] as? Int == 2)  // identical files share one blob
        #expect(json["new_bytes"] as? Int == 8)
        #expect(json["tag"] as? String == "web@1.0")
    }

    @Test func showJSONListsEveryEntryWithItsContractFields() throws {
        let sandbox = try Sandbox()
        let (v1, _) = try twoReleases(sandbox)
        let json = try sandbox.fixity("show", "app@1", "--json").json()
        #expect(json["release"] as? String == v1)
        let entries = try #require(json["entries"] as? [[String: Any]])
        #expect(entries.map { $0["path"] as? String } == ["bin", "bin/run", "lib", "lib/a", "lib/k", "lib/l"])
        let file = entries[1]
        #expect(file["type"] as? String == "file" && file["mode"] as? String == "0644" && file["size"] as? Int == 4)
        #expect((file["digest"] as? String)?.hasPrefix("sha256:") == true)
        #expect(entries[5]["type"] as? String == "symlink" && entries[5]["target"] as? String == "a")
        #expect(entries[0]["type"] as? String == "dir" && entries[0]["digest"] == nil)
    }

    @Test func diffReportsEachKindOfChange() throws {
        let sandbox = try Sandbox()
        _ = try twoReleases(sandbox)
        let json = try sandbox.fixity("diff", "app@1", "app@2", "--json").json()
        #expect(json["added"] as? [String] == ["lib/n"])
        #expect(json["removed"] as? [String] == ["lib/k"])
        #expect(json["modified"] as? [String] == ["lib/a"])
        #expect(json["mode_changed"] as? [String] == ["bin/run"])
        #expect(json["type_changed"] as? [String] == ["lib/l"])
    }

    @Test func catPrintsExactBytesAndRefusesWhatIsNotAFile() throws {
        let sandbox = try Sandbox()
        _ = try twoReleases(sandbox)
        #expect(try sandbox.fixity("cat", "app@1", "lib/a").stdout == "one\n")
        #expect(try sandbox.fixity("cat", "app@2", "lib/a").stdout == "two\n")
        for (path, fragment) in [("lib", "directory"), ("lib/l", "symlink"), ("nope", "no path")] {
            let result = try sandbox.fixity("cat", "app@1", path)
            #expect(result.status == 2 && result.stderr.contains(fragment), "\(path): \(result.stderr)")
        }
    }

    @Test func tagsAreImmutableAndReapplyingIsANoOp() throws {
        let sandbox = try Sandbox()
        let (v1, v2) = try twoReleases(sandbox)
        #expect(try sandbox.fixity("tag", "app@stable", v1).status == 0)
        let again = try sandbox.fixity("tag", "app@stable", "app@1", "--json")
        #expect(again.status == 0)
        #expect(try again.json()["created"] as? Bool == false)
        let move = try sandbox.fixity("tag", "app@stable", v2)
        #expect(move.status == 2)
        #expect(move.stderr.contains("app@stable") && move.stderr.contains("immutable"))
        #expect(try sandbox.fixity("cat", "app@stable", "lib/a").stdout == "one\n")
        // Sealing a different tree onto an existing tag is refused and records nothing.
        try sandbox.sh("echo three > tree/lib/a")
        let reseal = try sandbox.fixity("seal", "tree", "--app", "app", "--tag", "1")
        #expect(reseal.status == 2)
        #expect((try sandbox.fixity("releases", "--json").json()["releases"] as? [Any])?.count == 2)
    }

    @Test func refsResolveByIDPrefixAndTagAndRefuseUnknownOnes() throws {
        let sandbox = try Sandbox()
        let (v1, _) = try twoReleases(sandbox)
        let hex = String(v1.dropFirst(7))
        for ref in [v1, String(hex.prefix(10)), "sha256:" + String(hex.prefix(8)), "app@1"] {
            #expect(try sandbox.fixity("show", ref, "--json").json()["release"] as? String == v1, "\(ref)")
        }
        for (ref, fragment) in [
            ("app@9", "no tag app@9"), ("ffff0000", "no release matches"), ("xyz", "not a release reference"),
            ("sha256:" + String(repeating: "0", count: 64), "no release"),
        ] {
            let result = try sandbox.fixity("show", ref)
            #expect(result.status == 2 && result.stderr.contains(fragment), "\(ref): \(result.stderr)")
        }
    }

    @Test func ambiguousPrefixIsRefusedListingTheCandidates() throws {
        // Find two one-file trees whose release ids share their first four hex digits (pure
        // computation, no store), then seal both for real.
        var seen = [String: Int]()
        var pair: (Int, Int)?
        for n in 0..<100_000 {
            let content = Array("\(n)\n".utf8)
            let manifest = try Manifest(entries: [
                .file("f", mode: 0o644, size: UInt64(content.count), digest: .of(content))
            ])
            let prefix = String(manifest.id.digest.hex.prefix(4))
            if let other = seen[prefix] { pair = (other, n); break }
            seen[prefix] = n
        }
        let (a, b) = try #require(pair)
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir t1 t2 && echo \(a) > t1/f && echo \(b) > t2/f && chmod 644 t1/f t2/f")
        let first = try sandbox.seal("t1")
        let second = try sandbox.seal("t2")
        let prefix = String(first.dropFirst(7).prefix(4))
        #expect(second.dropFirst(7).hasPrefix(prefix))
        let result = try sandbox.fixity("show", prefix)
        #expect(result.status == 2)
        #expect(
            result.stderr.contains("ambiguous") && result.stderr.contains(String(first.dropFirst(7).prefix(12)))
                && result.stderr.contains(String(second.dropFirst(7).prefix(12))))
    }

    @Test func releasesListsByAppWithTags() throws {
        let sandbox = try Sandbox()
        let (v1, v2) = try twoReleases(sandbox)
        try sandbox.sh("mkdir other && echo o > other/o")
        _ = try sandbox.seal("other", app: "db")
        let all = try #require(try sandbox.fixity("releases", "--json").json()["releases"] as? [[String: Any]])
        #expect(all.count == 3)
        let app = try #require(
            try sandbox.fixity("releases", "--app", "app", "--json").json()["releases"] as? [[String: Any]])
        #expect(app.map { $0["release"] as? String } == [v1, v2])
        #expect(app[0]["tags"] as? [String] == ["app@1"])
    }

    @Test func exportRefusesANonEmptyFolderAndFillsAnEmptyOne() throws {
        let sandbox = try Sandbox()
        let (v1, _) = try twoReleases(sandbox)
        try sandbox.sh("mkdir full empty && echo mine > full/keep")
        let refused = try sandbox.fixity("export", v1, "full")
        #expect(refused.status == 2 && refused.stderr.contains("not empty"))
        #expect(try sandbox.sh("cat full/keep").stdout == "mine\n")
        #expect(try sandbox.fixity("export", v1, "empty").status == 0)
        #expect(try sandbox.sh("cat empty/lib/a").stdout == "one\n")
    }

    @Test func resealAfterOneChangeHashesOnlyThatFile() throws {
        let sandbox = try Sandbox()
        try sandbox.sh(
            "mkdir tree && for i in $(seq 1 300); do echo $i > tree/f$i; done && touch -d '2020-01-01' tree/*")
        let first = try sandbox.fixity("seal", "tree", "--app", "app", "--json").json()
        #expect(first["hashed_files"] as? Int == 300)
        try sandbox.sh("echo changed > tree/f7")
        let second = try sandbox.fixity("seal", "tree", "--app", "app", "--json").json()
        #expect(second["hashed_files"] as? Int == 1)
        #expect(second["release"] as? String != first["release"] as? String)
    }

    @Test func contentChangeBehindARestoredMtimeIsStillSeen() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir tree && echo aaaa > tree/f && touch -d '2020-01-01' tree/f")
        let first = try sandbox.seal("tree")
        // Same size, mtime put back: only ctime betrays the edit.
        try sandbox.sh("echo bbbb > tree/f && touch -d '2020-01-01' tree/f")
        #expect(try sandbox.seal("tree") != first)
    }

    @Test func racyFilesAreNeverTrustedFromTheCache() throws {
        let sandbox = try Sandbox()
        // An mtime not older than the cache's clock could hide a same-tick edit: always re-hash.
        try sandbox.sh(
            "mkdir tree && echo a > tree/future && touch -d '+1 hour' tree/future && echo b > tree/past && touch -d '2020-01-01' tree/past"
        )
        _ = try sandbox.seal("tree")
        let again = try sandbox.fixity("seal", "tree", "--app", "app", "--json").json()
        #expect(again["hashed_files"] as? Int == 1)
    }

    /// The stat cache is a binary file per sealed folder: a damaged one is no cache at all (every
    /// file hashed, the same release), never a partly trusted one.
    @Test func aDamagedStatCacheCostsTimeNeverCorrectness() throws {
        let sandbox = try Sandbox()
        try sandbox.sh(
            "mkdir tree && for i in $(seq 1 50); do echo $i > tree/f$i; done && touch -d '2020-01-01' tree/*")
        let first = try sandbox.fixity("seal", "tree", "--app", "app", "--json").json()
        #expect(first["hashed_files"] as? Int == 50)
        let caches = try sandbox.sh("ls store/cache/stat").stdout.split(separator: "\n")
        #expect(caches.count == 1)
        let damages = [
            "printf 'X' | dd of=$f bs=1 seek=2000 conv=notrunc 2>/dev/null",  // a changed byte
            "truncate -s 100 $f",  // torn
            ": > $f",  // empty
        ]
        for damage in damages {
            try sandbox.sh("f=$(ls store/cache/stat/*) && " + damage)
            let again = try sandbox.fixity("seal", "tree", "--app", "app", "--json").json()
            #expect(again["hashed_files"] as? Int == 50, "\(damage)")
            #expect(again["release"] as? String == first["release"] as? String)
            // And rewritten whole: the next seal trusts it again.
            #expect(try sandbox.fixity("seal", "tree", "--app", "app", "--json").json()["hashed_files"] as? Int == 0)
        }
    }

    /// A cache entry also vouches that its blob is in the store. After gc (a new epoch) that is
    /// checked again: a blob gone meanwhile is hashed and written anew, not referenced missing.
    @Test func aBlobGoneSinceTheCacheWasWrittenIsWrittenAgain() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir tree && echo one > tree/a && echo two > tree/b && touch -d '2020-01-01' tree/*")
        let release = try sandbox.seal("tree")
        // What gc does to a cached blob, done by hand: a new epoch, the object removed.
        let hex = try sandbox.sh("sha256sum tree/a | cut -c1-64").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try sandbox.sh(
            "rm -f store/objects/sha256/\(hex.prefix(2))/\(hex.dropFirst(2)) && head -c 16 /dev/urandom > store/cache/gc-epoch"
        )
        let again = try sandbox.fixity("seal", "tree", "--app", "app", "--json").json()
        #expect(again["hashed_files"] as? Int == 1)
        #expect(again["release"] as? String == release)
        #expect(try sandbox.fixity("fsck").status == 0)
    }

    @Test func gcThatRemovesObjectsStartsANewCacheEpoch() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir tree && echo one > tree/a && touch -d '2020-01-01' tree/a")
        _ = try sandbox.seal("tree")
        // A seal refused after its blobs were written (a broken fixity.toml) leaves them to gc.
        try sandbox.sh(
            "mkdir bad && echo 'unique bytes' > bad/x && echo '[deploy]' > bad/fixity.toml && echo 'keep = \"many\"' >> bad/fixity.toml"
        )
        #expect(try sandbox.fixity("seal", "bad", "--app", "bad").status == 2)
        #expect(try sandbox.sh("ls store/cache").stdout.contains("gc-epoch") == false)
        let gc = try sandbox.fixity("gc", "--json").json()
        #expect((gc["removed_objects"] as? [String])?.isEmpty == false)
        #expect(try sandbox.sh("wc -c < store/cache/gc-epoch").stdout.trimmingCharacters(in: .whitespaces) == "16\n")
        let again = try sandbox.fixity("seal", "tree", "--app", "app", "--json").json()
        #expect(again["hashed_files"] as? Int == 0)
    }

    @Test func demoTellsTheStoryAndSucceeds() throws {
        let sandbox = try Sandbox()
        let result = try sandbox.fixity("demo")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("same id") && result.stdout.contains("mode_changed  scripts/migrate.sh"))
        #expect(result.stdout.contains("rolled_back") && result.stdout.contains("VERSION says 1.0"))
        #expect(
            result.stdout.contains("DRIFT: modified lib/cart.js, added lib/debug.js")
                && result.stdout.contains("tree clean again: true"))
        // The fleet: three agents, a rollout in two waves, a bad release halted in its first.
        #expect(result.stdout.contains("runs it: converged") && result.stdout.contains("--bake 1s  ->  completed"))
        #expect(
            result.stdout.contains("halted: wave 1: 1 host(s) failed (web-1)")
                && result.stdout.contains("never pulled 1.5: yes"), "\(result.stdout.suffix(1500))")
    }

    @Test func storeComesFromTheEnvironmentWhenNoFlagIsGiven() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir tree && echo a > tree/a")
        let result = try Sandbox.run(
            "/bin/sh", ["-c", "FIXITY_STORE='\(sandbox.root)/envstore' '\(Sandbox.binary)' seal tree --app app"],
            in: sandbox.root)
        #expect(result.status == 0)
        #expect(FileManager.default.fileExists(atPath: "\(sandbox.root)/envstore/fixity.db"))
    }
}
