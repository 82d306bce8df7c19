/// A duration as an operator writes it: a positive whole number and a unit, `90s`, `30m`, `12h`,
/// `30d` (key expiry, rotation overlap).
public enum HumanDuration {
    /// Seconds in `text`; refused unless it is a positive number (no leading zero) of s, m, h
    /// or d no longer than `maximum` seconds.
    public static func seconds(_ text: String, maximum: Int, what: String) throws(AccessError) -> Int {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = text.last, let scale = units[unit], text.count >= 2,
            text.dropLast().allSatisfy(\.isASCII), text.dropLast().allSatisfy(\.isNumber),
            text.first != "0", let count = Int(text.dropLast()), count > 0
        else {
            throw AccessError(.badInput, "\(what) '\(text)': a positive whole number and a unit: 90s, 30m, 12h, 30d")
        }
        let (seconds, overflow) = count.multipliedReportingOverflow(by: scale)
        guard !overflow, seconds <= maximum else {
            throw AccessError(.badInput, "\(what) '\(text)' is longer than the maximum, \(describe(maximum))")
        }
        return seconds
    }

    /// `90d`, `12h`, `30m`, `45s`: the largest unit that divides it.
    public static func describe(_ seconds: Int) -> String {
        for (unit, scale) in [("d", 86400), ("h", 3600), ("m", 60)] where seconds % scale == 0 && seconds > 0 {
            return "\(seconds / scale)\(unit)"
        }
        return "\(seconds)s"
    }
}
