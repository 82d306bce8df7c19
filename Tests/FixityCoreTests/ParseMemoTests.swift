import FixityConfig
import FixityCore
import Testing

/// What a long-running agent or server parses again and again is parsed once per distinct text
/// (issue 29, item 17: TOMLKit leaks part of every document it parses).
@Suite struct ParseMemoTests {
    struct Refused: Error {}

    @Test func aTextIsParsedOnceAndAFailureIsNotRemembered() throws {
        let memo = ParseMemo<Int>(capacity: 2)
        var parses = 0
        for _ in 0..<5 {
            #expect(
                memo.value(for: "a") {
                    parses += 1; return 1
                } == 1)
        }
        #expect(parses == 1)
        #expect(throws: Refused.self) {
            try memo.value(for: "bad") {
                parses += 1; throw Refused()
            }
        }
        #expect(throws: Refused.self) {
            try memo.value(for: "bad") {
                parses += 1; throw Refused()
            }
        }
        #expect(parses == 3)
        // Bounded: the oldest text goes first.
        _ = memo.value(for: "b") {
            parses += 1; return 2
        }
        _ = memo.value(for: "c") {
            parses += 1; return 3
        }
        _ = memo.value(for: "a") {
            parses += 1; return 1
        }
        #expect(parses == 6)
    }

    @Test func aDocumentIsReadWholeAndItsErrorsNameTheLine() throws {
        let keys = try TOMLDocument.read("[deploy]\nkeep = 2\n", describing: "t.toml") { table in
            table["deploy"]?.table?["keep"]?.int
        }
        #expect(keys == 2)
        #expect(throws: ConfigError.self) {
            try TOMLDocument.read("[deploy\nkeep = 2\n", describing: "t.toml") { _ in 0 }
        }
    }
}
