import FixityCore
import Testing

@Suite struct IgnoreRulesTests {
    @Test(arguments: [
        ("var/cache", "var/cache", true),
        ("var/cache", "var/cache/deep/file", true),
        ("var/cache", "var/cached", false),
        ("var/cache", "other/var/cache", false),
        ("*.sock", "app.sock", true),
        ("*.sock", "run/app.sock", false),
        ("**/*.sock", "run/app.sock", true),
        ("**/*.sock", "app.sock", true),
        ("logs/**", "logs/a/b.log", true),
        ("logs/**", "logsx/a", false),
        ("tmp/?.pid", "tmp/1.pid", true),
        ("tmp/?.pid", "tmp/12.pid", false),
        ("a/**/z", "a/b/c/z", true),
        ("a/**/z", "a/z", true),
    ])
    func patternsMatchByComponent(_ pattern: String, _ path: String, _ expected: Bool) throws {
        #expect(try IgnoreRules([pattern]).ignores(path) == expected, "\(pattern) vs \(path)")
    }

    @Test(arguments: ["", "/etc", "../x", "a//b", "a/../b"])
    func escapingPatternsAreRefused(_ pattern: String) {
        #expect(throws: DeployError.self) { try IgnoreRules([pattern]) }
    }

    @Test func noRulesIgnoreNothing() {
        #expect(!IgnoreRules.none.ignores("anything"))
    }
}

@Suite struct DriftReportTests {
    @Test func stateDigestChangesWithPathsAndObservedContent() {
        var a = DriftReport()
        a.modified = ["lib/a.js"]
        a.observed["lib/a.js"] = .of(Array("one".utf8))
        var b = a
        b.observed["lib/a.js"] = .of(Array("two".utf8))
        var c = a
        c.added = ["x"]
        #expect(Set([a.stateDigest, b.stateDigest, c.stateDigest]).count == 3)
        #expect(!a.clean && DriftReport().clean)
        #expect(a.drifted == ["lib/a.js"])
    }

    @Test func replacingASubtreeKeepsEverythingOutsideIt() {
        var whole = DriftReport()
        whole.modified = ["a/x", "b/y"]
        whole.added = ["a/new", "c"]
        whole.observed = ["a/x": .of([1]), "b/y": .of([2])]
        var part = DriftReport()
        part.removed = ["a/gone"]
        let merged = whole.replacing(subtrees: ["a"], with: part)
        #expect(merged.modified == ["b/y"])
        #expect(merged.added == ["c"])
        #expect(merged.removed == ["a/gone"])
        #expect(Set(merged.observed.keys) == ["b/y"])
        // A path that only shares a prefix with the subtree ("ab" vs "a") is outside it.
        var other = DriftReport()
        other.added = ["ab"]
        #expect(other.replacing(subtrees: ["a"], with: DriftReport()).added == ["ab"])
    }
}
