import Foundation
import Testing

/// Drift on a deployed root: found by verify, recorded once per state, repaired with evidence.
@Suite struct DriftTests {
    /// A root with app@1 deployed: bin/run, lib/a.js, lib/link -> a.js, etc/empty/.
    func deployed(toml: String? = nil) throws -> Sandbox {  // also used by WatchTests
        let sandbox = try Sandbox()
        try sandbox.sh(
            "mkdir -p src/bin src/lib src/etc/empty src/var && printf '#!/bin/sh\\necho run\\n' > src/bin/run && chmod 755 src/bin/run && echo 'module.exports = 1' > src/lib/a.js && ln -s a.js src/lib/link && echo keep > src/var/state"
        )
        if let toml { try toml.write(toFile: "\(sandbox.root)/src/fixity.toml", atomically: true, encoding: .utf8) }
        _ = try sandbox.seal("src", extra: ["--tag", "1"])
        let deploy = try sandbox.fixity("deploy", "app@1", "--root", "root")
        try #require(deploy.status == 0, "\(deploy.stderr)")
        return sandbox
    }

    func verify(_ sandbox: Sandbox, full: Bool = false) throws -> (Int32, [String: Any]) {
        let result = try sandbox.fixity(["verify", "--root", "root", "--json"] + (full ? ["--full"] : []))
        return (result.status, try result.json())
    }

    @Test(arguments: [
        ("modified", "lib/a.js", "echo 'module.exports = 2' > root/current/lib/a.js"),
        ("added", "lib/extra.js", "echo new > root/current/lib/extra.js"),
        ("added", "etc/empty/dir", "mkdir root/current/etc/empty/dir"),
        ("removed", "bin/run", "rm root/current/bin/run"),
        ("mode_changed", "bin/run", "chmod 777 root/current/bin/run"),
        ("type_changed", "lib/a.js", "rm root/current/lib/a.js && mkdir root/current/lib/a.js"),
        ("type_changed", "var/state", "rm root/current/var/state && ln -s /etc/passwd root/current/var/state"),
        ("modified", "lib/link", "ln -sfn elsewhere.js root/current/lib/link"),
    ])
    func eachKindOfDriftIsFoundAndRepaired(_ kind: String, _ path: String, _ change: String) throws {
        let sandbox = try deployed()
        #expect(try verify(sandbox).0 == 0)
        try sandbox.sh(change)
        for full in [false, true] {
            let (status, json) = try verify(sandbox, full: full)
            #expect(status == 1, "\(kind) \(path) not found (full: \(full))")
            #expect((json[kind] as? [String])?.contains(path) == true, "\(kind) \(path): \(json)")
        }
        let repair = try sandbox.fixity("repair", "--root", "root", "--json")
        #expect(repair.status == 0, "\(repair.stderr)")
        #expect(try repair.json()["clean"] as? Bool == true)
        #expect(try verify(sandbox, full: true).0 == 0)
        #expect(try verify(sandbox).0 == 0)
        #expect(try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root").isEmpty)
    }

    @Test func everyKindAtOnceIsRepairedInOnePass() throws {
        let sandbox = try deployed()
        try sandbox.sh(
            """
            cd root/current && echo hacked > lib/a.js && echo x > added && mkdir -p newdir/deeper && echo y > newdir/deeper/f \
            && rm bin/run && chmod 700 var && ln -sfn nowhere lib/link && rmdir etc/empty && echo file > etc/empty
            """)
        let (status, json) = try verify(sandbox)
        #expect(status == 1)
        #expect(json["modified"] as? [String] == ["lib/a.js", "lib/link"])
        #expect(json["added"] as? [String] == ["added", "newdir", "newdir/deeper", "newdir/deeper/f"])
        #expect(json["removed"] as? [String] == ["bin/run"])
        #expect(json["mode_changed"] as? [String] == ["var"])
        #expect(json["type_changed"] as? [String] == ["etc/empty"])
        #expect(try sandbox.fixity("repair", "--root", "root").status == 0)
        #expect(try verify(sandbox, full: true).0 == 0)
        #expect(try TreeCheck.problems(sandbox, root: "\(sandbox.root)/root").isEmpty)
    }

    @Test func contentRewrittenWithItsMtimeResetIsCaughtByFastMode() throws {
        let sandbox = try deployed()
        try sandbox.sh(
            "f=root/current/lib/a.js; t=$(stat -c %y $f); echo 'module.exports = 9' > $f; touch -d \"$t\" $f")
        let (status, json) = try verify(sandbox)
        #expect(status == 1)
        #expect(json["modified"] as? [String] == ["lib/a.js"])
    }

    /// A repair blesses what it wrote in the stat snapshot and keeps every other recorded stat,
    /// so fast verify hashes nothing afterwards (it hashed every file forever: the snapshot's
    /// reader took a file's size for its mtime).
    @Test func afterARepairFastVerifyHashesNothing() throws {
        let sandbox = try deployed()
        #expect(try verify(sandbox).1["files_hashed"] as? Int == 0)
        try sandbox.sh(
            "echo drift >> root/current/lib/a.js && chmod 700 root/current/bin/run && echo x > root/current/var/new")
        #expect(try sandbox.fixity("repair", "--root", "root").status == 0)
        for _ in 0..<2 {
            let (status, json) = try verify(sandbox)
            #expect(status == 0)
            #expect(json["files_hashed"] as? Int == 0, "\(json)")
        }
    }

    @Test func repairKeepsEvidenceByteForByte() throws {
        let sandbox = try deployed()
        try sandbox.sh(
            "printf 'hotfix: do not tell anyone\\n' > root/current/lib/a.js && printf 'debug\\n' > root/current/lib/debug.js"
        )
        let repair = try sandbox.fixity("repair", "--root", "root", "--json")
        let id = try #require(try repair.json()["evidence"] as? String)
        #expect(try sandbox.sh("cat store/evidence/\(id)/files/lib/a.js").stdout == "hotfix: do not tell anyone\n")
        #expect(try sandbox.sh("cat store/evidence/\(id)/files/lib/debug.js").stdout == "debug\n")
        let record = try sandbox.fixity("evidence", id, "--json").json()
        let files = try #require(record["files"] as? [[String: Any]])
        let hotfix = try #require(files.first { $0["path"] as? String == "lib/a.js" })
        let expected = try sandbox.sh("printf 'hotfix: do not tell anyone\\n' | sha256sum | cut -c1-64").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hotfix["digest"] as? String == "sha256:\(expected)")
        #expect(hotfix["size"] as? Int == 27)
        #expect((record["drift"] as? [String: Any])?["modified"] as? [String] == ["lib/a.js"])
        let listing = try sandbox.fixity("evidence", "--json").json()
        #expect((listing["evidence"] as? [Any])?.count == 1)
        let log = try sandbox.fixity("log", "--json").json()
        let actions = try #require(log["entries"] as? [[String: Any]]).compactMap { $0["action"] as? String }
        #expect(actions.contains("repair"))
    }

    @Test func driftIsRecordedOncePerDistinctState() throws {
        let sandbox = try deployed()
        func driftEntries() throws -> Int {
            try #require(try sandbox.fixity("log", "--json").json()["entries"] as? [[String: Any]]).filter {
                $0["action"] as? String == "drift"
            }.count
        }
        try sandbox.sh("echo 1 > root/current/lib/a.js")
        for _ in 0..<3 { _ = try verify(sandbox) }
        #expect(try driftEntries() == 1)
        try sandbox.sh("echo 2 > root/current/lib/a.js")
        _ = try verify(sandbox)
        #expect(try driftEntries() == 2)
        try sandbox.fixity("repair", "--root", "root")
        _ = try verify(sandbox)
        #expect(try driftEntries() == 3)  // back to clean is a state change too
    }

    @Test func ignoredPathsMayChangeAndNothingElseMay() throws {
        let sandbox = try deployed(toml: "[drift]\nignore = [\"var\", \"**/*.sock\"]\n")
        try sandbox.sh(
            "echo changed > root/current/var/state && echo tmp > root/current/var/cache && touch root/current/lib/app.sock"
        )
        #expect(try verify(sandbox).0 == 0)
        try sandbox.sh("echo x > root/current/lib/app.js")
        let (status, json) = try verify(sandbox)
        #expect(status == 1)
        #expect(json["added"] as? [String] == ["lib/app.js"])
        #expect(try sandbox.fixity("repair", "--root", "root").status == 0)
        #expect(try sandbox.sh("cat root/current/var/state").stdout == "changed\n", "repair touched an ignored path")
    }

    /// Fast verify's proof checks each folder's names through its parent's lookup of it: a name
    /// planted in any folder of a nested tree (siblings whose names sort around "/") is found,
    /// and once removed the tree proves clean again.
    @Test func aNamePlantedInAnyFolderOfANestedTreeIsFound() throws {
        let sandbox = try Sandbox()
        let folders = ["", "a", "a/x", "a/x/y", "a-b", "a.b", "a.b/z"]
        try sandbox.sh(
            "mkdir -p src/a/x/y src/a-b src/a.b/z && for d in " + folders.map { "src/\($0)" }.joined(separator: " ")
                + "; do echo f > $d/f; done")
        _ = try sandbox.seal("src", extra: ["--tag", "1"])
        try #require(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        for folder in folders {
            let planted = folder.isEmpty ? "planted" : "\(folder)/planted"
            try sandbox.sh("echo new > root/current/\(planted)")
            let (status, json) = try verify(sandbox)
            #expect(status == 1 && json["added"] as? [String] == [planted], "\(planted): \(json)")
            try sandbox.sh("rm root/current/\(planted)")
            #expect(try verify(sandbox).0 == 0, "\(planted) removed")
        }
    }

    @Test func ignoredNamesDeepInTheTreeMayComeAndGo() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir -p src/a/x/y && echo f > src/a/x/y/f")
        try "[drift]\nignore = [\"**/*.log\"]\n".write(
            toFile: "\(sandbox.root)/src/fixity.toml", atomically: true, encoding: .utf8)
        _ = try sandbox.seal("src", extra: ["--tag", "1"])
        try #require(try sandbox.fixity("deploy", "app@1", "--root", "root").status == 0)
        try sandbox.sh("echo x > root/current/a/x/y/debug.log && echo x > root/current/a/top.log")
        #expect(try verify(sandbox).0 == 0)
        try sandbox.sh("echo x > root/current/a/x/y/debug.txt")
        let (status, json) = try verify(sandbox)
        #expect(status == 1 && json["added"] as? [String] == ["a/x/y/debug.txt"], "\(json)")
    }

    @Test func missingOrCorruptSnapshotFallsBackToFullAndSaysSo() throws {
        let sandbox = try deployed()
        try sandbox.sh("for f in root/.fixity/snapshots/*; do echo garbage >> \"$f\"; done")
        let (status, json) = try verify(sandbox)
        #expect(status == 0)
        #expect(json["full"] as? Bool == true)
        #expect((json["notes"] as? [String])?.first?.contains("corrupt") == true)
        try sandbox.sh("rm root/.fixity/snapshots/*")
        let again = try verify(sandbox)
        #expect((again.1["notes"] as? [String])?.first?.contains("no stat snapshot") == true)
    }

    @Test func rootWithoutADeploymentIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.sh("mkdir root")
        let result = try sandbox.fixity("verify", "--root", "root")
        #expect(result.status == 2 && result.stderr.contains("not a Fixity root"), "\(result.stderr)")
        // A root whose only deployment failed its check has no active one: said so.
        _ = try DeployTests.releases(sandbox, 1)
        #expect(try sandbox.fixity("deploy", "app@1", "--root", "root2", "--health-cmd", "false").status == 1)
        let none = try sandbox.fixity("verify", "--root", "root2")
        #expect(none.status == 2 && none.stderr.contains("no active deployment"), "\(none.stderr)")
    }

    @Test func repairReplacesAPlantedSymlinkWithoutWritingThroughIt() throws {
        let sandbox = try deployed()
        try sandbox.sh(
            "mkdir outside && echo mine > outside/a.js && rm -r root/current/lib && ln -s \(sandbox.root)/outside root/current/lib"
        )
        #expect(try sandbox.fixity("repair", "--root", "root").status == 0)
        #expect(try sandbox.sh("ls outside && cat outside/a.js").stdout == "a.js\nmine\n")
        #expect(try verify(sandbox, full: true).0 == 0)
    }

    @Test func adoptSealsTheLiveTreeWithoutSwitching() throws {
        let sandbox = try deployed()
        try sandbox.sh("echo 'module.exports = \"hotfix\"' > root/current/lib/a.js")
        let before = try sandbox.sh("readlink root/current").stdout
        let adopt = try sandbox.fixity("adopt", "--root", "root", "--app", "app", "--tag", "1-hotfix", "--json")
        #expect(adopt.status == 0, "\(adopt.stderr)")
        #expect(try sandbox.sh("readlink root/current").stdout == before)
        let diff = try sandbox.fixity("diff", "app@1", "app@1-hotfix", "--json").json()
        #expect(diff["modified"] as? [String] == ["lib/a.js"])
        #expect(try sandbox.fixity("cat", "app@1-hotfix", "lib/a.js").stdout == "module.exports = \"hotfix\"\n")
    }
}
