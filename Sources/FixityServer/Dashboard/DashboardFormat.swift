import FixityCore
import Foundation

/// An instant as every page shows it: UTC to the second, how long ago (or ahead), and the
/// exact RFC 3339 text in the `<time>` element (the `moment` partial).
struct Moment: Sendable {
    let iso: String
    let utc: String
    let relative: String

    /// Nil for an absent or unparseable time (a page shows "never" or nothing instead).
    init?(_ text: String?, now: Instant) {
        guard let text, let instant = Instant(rfc3339: text) else { return nil }
        iso = text
        utc = Self.utc(text) ?? Self.utc(instant.wholeSecondsText) ?? instant.wholeSecondsText
        relative = Self.relative(instant.seconds - now.seconds)
    }

    /// "2026-12-04 18:46:07 UTC" from a UTC RFC 3339 text ("…T18:46:07[.fraction]Z"), taken
    /// from its bytes (a page shows hundreds of these); nil for any other form.
    static func utc(_ text: String) -> String? {
        var bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[10] == UInt8(ascii: "T"),
            bytes[19] == UInt8(ascii: "Z") || bytes[19] == UInt8(ascii: ".")
        else { return nil }
        bytes[10] = UInt8(ascii: " ")
        bytes.removeSubrange(19...)
        bytes += Array(" UTC".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// "3 min ago", "in 2 h", "just now": the largest unit, whole.
    static func relative(_ seconds: Int64) -> String {
        let span = abs(seconds)
        if span < 5 { return "just now" }
        let amount: String
        switch span {
        case ..<60: amount = "\(span) s"
        case ..<3600: amount = "\(span / 60) min"
        case ..<172_800: amount = "\(span / 3600) h"
        default: amount = "\(span / 86_400) d"
        }
        return seconds < 0 ? "\(amount) ago" : "in \(amount)"
    }
}

/// A digest shown short, the whole value a click away (the `digest` partial), optionally with a
/// link to the page about it.
struct ShownDigest: Sendable {
    let short: String
    let full: String
    let link: String?
    /// What people call it (`shop@1.4.2`), shown instead of the digest, which stays a click away.
    var name: String?

    init(_ full: String, link: String? = nil) {
        self.full = full
        let hex = full.hasPrefix(Digest.algorithmPrefix) ? String(full.dropFirst(Digest.algorithmPrefix.count)) : full
        short = hex.count > 12 ? String(hex.prefix(12)) + "…" : hex
        self.link = link
    }

    /// A release, linked to its page.
    static func release(_ text: String) -> ShownDigest {
        ShownDigest(text, link: "/dashboard/releases/\(text)")
    }
}

/// The names people use for what pages otherwise show as digests and ids: a release as
/// `APP@TAG` (its newest tag), an API key by its name. Read once per page.
struct DisplayNames: Sendable {
    let releases: [String: String]
    let keys: [String: String]

    static func load(_ plane: any ControlPlane) async throws -> DisplayNames {
        var releases = [String: String]()
        for record in try await plane.releases(app: nil) {
            releases[record.release.description] =
                record.tags.last.map { "\(record.app)@\($0)" } ?? "\(record.app) (untagged)"
        }
        let keys = Dictionary(try await plane.listKeys().map { ($0.id, $0.name) }) { first, _ in first }
        return DisplayNames(releases: releases, keys: keys)
    }

    func release(_ digest: String) -> ShownDigest {
        var shown = ShownDigest.release(digest)
        shown.name = releases[digest]
        return shown
    }

    /// "alice (kdf5221dbd00ba47)"; a key no longer listed, or a rollout's own return
    /// (`rollout:7`), as it is.
    func key(_ id: String) -> String {
        keys[id].map { "\($0) (\(id))" } ?? id
    }
}

/// Sizes as people read them: 1.2 MiB, 340 B.
enum ByteCount {
    static func text(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// One `key value` pair of a ledger entry's details, in key order.
struct DetailPair: Sendable {
    let key: String
    let value: String

    static func list(_ details: [String: String]) -> [DetailPair] {
        details.keys.sorted().map { DetailPair(key: $0, value: details[$0]!) }
    }
}

/// Host states in the order every page counts them.
enum HostStates {
    static let shown = ["converged", "deploying", "failed", "drifted", "offline"]

    struct Count: Sendable {
        let state: String
        let count: Int
        var zero: Bool { count == 0 }
    }

    /// The five states always (a zero is news too), then any other state present.
    static func counts(_ states: [String]) -> [Count] {
        var tally: [String: Int] = [:]
        for state in states { tally[state, default: 0] += 1 }
        let others = tally.keys.filter { !shown.contains($0) }.sorted()
        return (shown + others).map { Count(state: $0, count: tally[$0] ?? 0) }
    }
}
