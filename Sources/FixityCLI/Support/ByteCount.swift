/// A size on the command line: bytes, or a number with K, M, G or T (powers of 1024).
enum ByteCount {
    static func parse(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text)
        var multiplier: UInt64 = 1
        if let last = text.last?.uppercased().first, let unit = units[last] {
            multiplier = unit
            digits = text.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = UInt64(digits) else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }
}
