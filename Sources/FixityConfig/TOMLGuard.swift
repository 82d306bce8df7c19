import FixityCore

/// A check every TOML text passes before it reaches the TOML parser.
///
/// toml++ (the C++ parser under TOMLKit) aborts the whole process — an assertion, in release
/// builds too — on two malformed shapes: a table header whose key starts with a character that
/// is neither a bare-key character nor a quote (`[[[1]]]`, `[[=`, `[\n`; fixed upstream in
/// marzer/tomlplusplus#301, after the TOMLKit release this builds with), and a `}` where an array
/// expects a value (`x = [1, }]`; found by fuzz/run.sh). A release's `fixity.toml` and a policy
/// file are untrusted input, so these are refused here with their line, exit 2, like any other
/// malformed file.
///
/// A small lexer, enough to know where a header can start: outside strings (basic, literal and
/// their multi-line forms) and comments, at the start of a line, not inside a value's brackets.
public enum TOMLGuard {
    public struct Problem: Error, Sendable, Equatable {
        public let line: Int
        public let message: String
    }

    public static func problem(in text: String) -> Problem? {
        let bytes = Array(text.utf8)
        let count = bytes.count
        var index = 0
        var line = 1
        var atLineStart = true
        var inValue = false
        /// The value's open `[` and `{`, innermost last.
        var open = [UInt8]()
        func at(_ offset: Int) -> UInt8? { offset < count ? bytes[offset] : nil }
        func isBlank(_ byte: UInt8?) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        /// Skips a string opened at `index` by `quote`, escapes honoured in basic strings.
        func skipString(quote: UInt8) {
            let multiLine = at(index + 1) == quote && at(index + 2) == quote
            index += multiLine ? 3 : 1
            while index < count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") {
                    if at(index + 1) == UInt8(ascii: "\n") { line += 1 }
                    index += 2
                    continue
                }
                if byte == UInt8(ascii: "\n") {
                    if !multiLine { return }  // an unterminated string: the parser reports it
                    line += 1
                }
                if byte == quote && (!multiLine || (at(index + 1) == quote && at(index + 2) == quote)) {
                    // A multi-line string may end with up to two more quotes of its own.
                    index += multiLine ? 3 : 1
                    while multiLine && at(index) == quote { index += 1 }
                    return
                }
                index += 1
            }
        }

        // A UTF-8 byte order mark is skipped by the parser: the first line starts after it.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        while index < count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                line += 1
                atLineStart = true
                if open.isEmpty { inValue = false }
                index += 1
                continue
            }
            if isBlank(byte) || byte == UInt8(ascii: "\r") {
                index += 1
                continue
            }
            let lineStart = atLineStart
            atLineStart = false
            switch byte {
            case UInt8(ascii: "#"):
                while index < count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
                continue
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                skipString(quote: byte)
                continue
            case UInt8(ascii: "[") where !inValue && lineStart:
                // A table header, as toml++ reads one: `[`, blanks, a contiguous second `[`
                // (a spaced one is its own clean error), blanks, then the key.
                var next = index + 1
                let leadingBlank = isBlank(at(next))
                while isBlank(at(next)) { next += 1 }
                if at(next) == UInt8(ascii: "[") && !leadingBlank {
                    next += 1
                    while isBlank(at(next)) { next += 1 }
                } else if at(next) == UInt8(ascii: "[") {
                    break
                }
                if let first = at(next), !isKeyStart(first) {
                    return Problem(
                        line: line,
                        message:
                            "a table header must start with a key (a name or a quoted string), not '\(describe(first))'"
                    )
                }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                if inValue { open.append(byte) }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if inValue, let innermost = open.popLast() {
                    let opener = byte == UInt8(ascii: "]") ? UInt8(ascii: "[") : UInt8(ascii: "{")
                    if innermost != opener {
                        return Problem(
                            line: line,
                            message: "'\(describe(byte))' does not close the '\(describe(innermost))' before it")
                    }
                }
            case UInt8(ascii: "="):
                if open.isEmpty { inValue = true }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// What toml++ accepts at the start of a header's key (or `]`, its own clean error).
    private static func isKeyStart(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "]"):
            true
        default:
            false
        }
    }

    private static func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7f ? String(UnicodeScalar(byte)) : "\\x" + Hex.encode([byte])
    }
}
