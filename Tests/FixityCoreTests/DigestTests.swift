import FixityCore
import Testing

@Suite struct DigestTests {
    @Test func digestOfKnownInputMatchesSHA256TestVector() {
        // FIPS 180-2 example: SHA-256("abc").
        #expect(Digest.of(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.of([UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func parsingRoundTripsAndShortFormIsAPrefix() throws {
        let text = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        let digest = try #require(Digest(parsing: text))
        #expect(digest.description == text)
        #expect(digest.bytes.count == 32)
        #expect(Digest(bytes: digest.bytes) == digest)
        #expect(text.dropFirst(7).hasPrefix(digest.short))
    }

    @Test(arguments: [
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",  // no algorithm
        "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",  // uppercase
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015",  // short
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adad",  // long
        "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",  // other algorithm
        "sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",  // not hex
    ])
    func malformedDigestsAreRefused(_ text: String) {
        #expect(Digest(parsing: text) == nil)
    }
}

@Suite struct RefTests {
    @Test func refsParseByShape() throws {
        let full = "sha256:" + String(repeating: "ab", count: 32)
        #expect(try Ref(parsing: full) == .id(ReleaseID(Digest(parsing: full)!)))
        #expect(try Ref(parsing: "abcd12") == .prefix("abcd12"))
        #expect(try Ref(parsing: "sha256:abcd12") == .prefix("abcd12"))
        #expect(try Ref(parsing: "shop@1.2.3") == .tag(TagName(app: AppName(parsing: "shop"), version: "1.2.3")))
    }

    @Test(arguments: ["abc", "ABCD", "xyz1", "@1", "shop@", "Shop@1", "shop@1 2", "shop@../x", "shop@1@2", "", "a/b@1"])
    func badRefsAreRefusedWithTheirText(_ text: String) {
        #expect(throws: RefError.self) { try Ref(parsing: text) }
    }
}
