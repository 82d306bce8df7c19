import Foundation
import Glibc

/// An instant parsed from RFC 3339 (`2026-11-29T12:00:00Z`, `…:00.5+02:00`), to the nanosecond,
/// for comparing with ledger times exactly.
public struct Instant: Sendable, Comparable, CustomStringConvertible {
    public let seconds: Int64
    public let nanos: Int64

    public init?(rfc3339 text: String) {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count, !range.isEmpty else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard bytes.count >= 20, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84 || bytes[10] == 116, bytes[13] == 58,
            bytes[16] == 58,
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction: Int64 = 0
        if bytes[index] == 46 {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 9 { fraction = fraction * 10 + Int64(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { fraction *= 10 }
        }
        var offset = 0
        guard index < bytes.count else { return nil }
        if bytes[index] == 90 || bytes[index] == 122 {
            guard index + 1 == bytes.count else { return nil }
        } else {
            guard bytes[index] == 43 || bytes[index] == 45, index + 6 == bytes.count, bytes[index + 3] == 58,
                let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)),
                hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == 43 ? 1 : -1)
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        seconds = Int64(timegm(&parts)) - Int64(offset)
        nanos = fraction
    }

    public init(seconds: Int64, nanos: Int64 = 0) {
        self.seconds = seconds
        self.nanos = nanos
    }

    /// The instant of `date`, to the nanosecond that a `Date` (a Double) can carry.
    public init(_ date: Date) {
        let since1970 = date.timeIntervalSince1970
        let whole = since1970.rounded(.down)
        self.init(seconds: Int64(whole), nanos: Int64((since1970 - whole) * 1e9))
    }

    public var date: Date { Date(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(nanos) / 1e9) }

    public static func < (lhs: Instant, rhs: Instant) -> Bool { (lhs.seconds, lhs.nanos) < (rhs.seconds, rhs.nanos) }
    public static func == (lhs: Instant, rhs: Instant) -> Bool { lhs.seconds == rhs.seconds && lhs.nanos == rhs.nanos }

    /// RFC 3339 in UTC with nanoseconds, `2026-11-29T12:00:00.123456789Z`: how every time Fixity
    /// records is spelled (ledger entries, table columns).
    public var description: String { text(fraction: true) }

    /// RFC 3339 in UTC to the whole second, `1970-01-01T00:00:00Z` (an OCI image's `created`).
    public var wholeSecondsText: String { text(fraction: false) }

    private func text(fraction: Bool) -> String {
        var whole = time_t(seconds)
        var parts = tm()
        gmtime_r(&whole, &parts)
        let date = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        return fraction ? date + String(format: ".%09dZ", Int(nanos)) : date + "Z"
    }
}

extension WallClock {
    /// Now, spelled as Fixity records times.
    public func timestamp() -> String { Instant(now()).description }
}
