import FixityCore
import Foundation
import Testing

/// The canonical details encoding round-trips, and the timeline picks the right span.
@Suite struct CanonicalJSONTests {
    @Test(
        arguments: [
            [:],
            ["a": "b"],
            ["quote": "say \"hi\"", "back\\slash": "c:\\dir", "ctl": "line\nnext\ttab\u{1}", "ü": "日本語 🎉", "": ""],
        ] as [[String: String]])
    func roundTrips(_ object: [String: String]) {
        #expect(CanonicalJSON.parseFlatObject(CanonicalJSON.object(object)) == object)
    }

    @Test func readsWhatFoundationWrote() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let object = ["path": "a/b", "text": "x\n\"y\"\u{7}", "emoji": "🎉"]
        let json = String(decoding: try encoder.encode(object), as: UTF8.self)
        #expect(CanonicalJSON.parseFlatObject(json) == object)
        #expect(CanonicalJSON.parseFlatObject(#"{"a":"\ud83c\udf89"}"#) == ["a": "🎉"])
    }

    @Test(arguments: [
        #"{"a":1}"#, #"{"a":"b" }"#, #"{"a":"b","a":"c"}"#, #"{"a":{"b":"c"}}"#, #"{"a":"\x"}"#, #"{"a":"\ud83c"}"#,
        "{", "", #"{"a":"b"}x"#,
    ])
    func refusesAnythingElse(_ text: String) {
        #expect(CanonicalJSON.parseFlatObject(text) == nil)
    }
}

@Suite struct ActivationTimelineTests {
    let d1 = Digest.of(Array("one".utf8)), d2 = Digest.of(Array("two".utf8))
    let r1 = Digest.of(Array("release one".utf8)), r2 = Digest.of(Array("release two".utf8))

    func entry(_ seq: Int64, _ second: Int, _ action: String, _ subject: Digest, _ details: [String: String])
        -> LedgerEntry
    {
        LedgerEntry(
            seq: seq, time: String(format: "2026-11-29T03:00:%02d.000000000Z", second), actor: "ops", host: "web1",
            action: action,
            subject: subject.description, details: details.merging(["root": "/srv/app"]) { a, _ in a })
    }

    var timeline: ActivationTimeline {
        ActivationTimeline(
            entries: [
                // An old-style activation without release details: the deploy entry names the pair.
                entry(1, 10, "deploy", d1, ["release": r1.description, "config": "-", "env": "prod"]),
                entry(2, 11, "activate", d1, ["env": "prod", "previous": "-"]),
                entry(3, 12, "health", d1, ["result": "pass"]),
                entry(4, 20, "activate", d2, ["release": r2.description, "config": "-", "env": "prod"]),
                entry(5, 21, "health", d2, ["result": "fail"]),
                entry(
                    6, 22, "rollback", d1,
                    ["release": r1.description, "config": "-", "env": "prod", "automatic": "true"]),
                entry(7, 30, "drift", d1, ["clean": "false", "state": "sha256:" + String(repeating: "a", count: 64)]),
                entry(8, 31, "repair", d1, [:]),
                entry(9, 31, "drift", d1, ["clean": "true", "state": "clean"]),
                entry(10, 40, "deactivate", d1, ["env": "prod"]),
            ], firstTime: "2026-11-29T03:00:00.000000000Z")
    }

    @Test func spansFollowTheSwitches() throws {
        let atFirst = try timeline.span(root: "/srv/app", at: "2026-11-29T03:00:15Z")
        #expect(atFirst.deployment == d1 && atFirst.release?.digest == r1 && atFirst.described?.seq == 1)
        #expect(atFirst.since?.seq == 2 && atFirst.until?.seq == 4 && atFirst.health?.seq == 3)

        let failed = try timeline.span(root: "/srv/app", at: "2026-11-29T03:00:21.5Z")
        #expect(failed.deployment == d2 && failed.health?.details["result"] == "fail" && failed.until?.seq == 6)

        let drifted = try timeline.span(root: "/srv/app", at: "2026-11-29T03:00:30.5Z")
        #expect(drifted.deployment == d1 && drifted.drift?.seq == 7 && drifted.repair == nil && drifted.since?.seq == 6)
        let repaired = try timeline.span(root: "/srv/app", at: "2026-11-29T03:00:35Z")
        #expect(repaired.drift?.seq == 9 && repaired.repair?.seq == 8)
        #expect(repaired.evidence.map(\.seq) == [3, 6, 8, 9, 10])

        let after = try timeline.span(root: "/srv/app", at: "2026-11-29T04:00:41+01:00")
        #expect(after.deployment == nil && after.since?.action == "deactivate")
        #expect(timeline.roots(env: "prod") == ["/srv/app"])
    }

    @Test func refusals() {
        #expect(throws: ActivationTimeline.QueryError.self) {
            try timeline.span(root: "/srv/app", at: "2026-11-29T02:59:59Z")
        }
        #expect(throws: ActivationTimeline.QueryError.unknownRoot("/srv/other")) {
            try timeline.span(root: "/srv/other", at: "2026-11-29T03:00:15Z")
        }
        #expect(throws: ActivationTimeline.QueryError.badTime("3am")) { try timeline.span(root: "/srv/app", at: "3am") }
        #expect(throws: ActivationTimeline.QueryError.emptyLedger) {
            try ActivationTimeline(entries: [], firstTime: nil).span(root: "/srv/app", at: "2026-11-29T03:00:15Z")
        }
    }
}
