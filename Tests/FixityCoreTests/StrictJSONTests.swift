import FixityCore
import Foundation
import Testing

/// Duplicate keys are refused in every untrusted JSON document (issue 15 item 7).
@Suite struct StrictJSONTests {
    @Test(arguments: [
        #"{"a":1,"a":2}"#,
        #"{"a":1,"\u0061":2}"#,
        #"{"x":{"b":[1,{"c":1}],"b":2}}"#,
        #"[{"k":"v"},{"k":"v","k":"w"}]"#,
        #"{"\ud83d\ude00":1,"😀":2}"#,
    ])
    func duplicatesAreFound(_ text: String) {
        #expect(throws: StrictJSON.DuplicateKey.self) { try StrictJSON.checkNoDuplicateKeys(Array(text.utf8)) }
    }

    @Test(arguments: [
        #"{"a":1,"b":{"a":2},"c":["a","a"]}"#,
        #"{"a":"a","b":"a"}"#,
        #"{"a\"":1,"a":2}"#,
        #"[{"a":1},{"a":1}]"#,
        #"{"#,
        #""\"#,
        #"}}]]{"#,
    ])
    func distinctKeysAndBrokenInputPass(_ text: String) throws {
        try StrictJSON.checkNoDuplicateKeys(Array(text.utf8))
    }

    /// The attack: a statement with two subjects, the second naming another release.
    @Test func aStatementWithTwoSubjectKeysIsRefused() {
        let a = String(repeating: "a", count: 64), b = String(repeating: "b", count: 64)
        let payload =
            #"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"\#(a)"}}],"subject":[{"name":"y","digest":{"sha256":"\#(b)"}}],"predicateType":"p","predicate":{}}"#
        #expect(throws: TrustError.self) { try InTotoStatement(payload: Array(payload.utf8), source: "test") }
    }
}
