import Foundation

/// RFC 3339 timestamps in UTC with nanoseconds: `2026-11-29T12:00:00.123456789Z`.
public enum Timestamp {
    public static func rfc3339(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = time_t(seconds.rounded(.down))
        let nanos = Int((seconds - Double(whole)) * 1e9)
        var parts = tm()
        gmtime_r(&whole, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), nanos)
    }
}
