/// Text from outside (a release, a hook, a registry) made safe to print on a terminal: every
/// control character but newline and tab — C0, DEL and the C1 range, where ESC and CSI start
/// terminal sequences — is written as `\xHH` (C1 as `\u{HH}`), so it is visible and inert.
public enum TerminalText {
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                out.append(scalar)
                continue
            }
            let hex = String(scalar.value, radix: 16, uppercase: false)
            let padded = hex.count < 2 ? "0" + hex : hex
            out.append(contentsOf: (scalar.value < 0x80 ? "\\x\(padded)" : "\\u{\(padded)}").unicodeScalars)
        }
        return String(out)
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return (v < 0x20 && v != 0x0A && v != 0x09) || (v >= 0x7F && v <= 0x9F)
    }
}
