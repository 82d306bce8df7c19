import FixityCore
import FixityLedger
import Foundation
import GRDB
import Testing

@testable import FixityServer

/// The dashboard's pure parts, in memory: the ledger timeline's index intersection against a
/// plain filter over every entry, escaping, times, sessions.
struct DashboardUnitTests {
    /// 3,000 entries over 4 actions, 5 hosts, 3 environments and 4 releases in irregular
    /// patterns; every filter combination paged to the end equals filtering the whole list.
    @Test func theTimelineMatchesAPlainFilterForEveryCombination() throws {
        let queue = try DatabaseQueue()
        var migrator = DatabaseMigrator()
        LedgerSchema.register(&migrator)
        try migrator.migrate(queue)
        let actions: [LedgerAction] = [.hostReport, .promote, .apiRequest, .drift]
        try queue.write { db in
            for n in 0..<3_000 {
                let action = actions[(n * 7 + n / 13) % actions.count]
                var details = ["n": String(n)]
                if n % 3 != 0 { details["env"] = ["staging", "production", "dev"][(n / 5) % 3] }
                if n % 4 != 1 { details["release"] = "sha256:r\((n / 11) % 4)" }
                if n % 9 == 0 { details["host"] = "h\(n % 5)" }
                let subject = n % 2 == 0 ? "h\((n / 3) % 5)" : (n % 5 == 0 ? "sha256:r\(n % 4)" : "k1")
                try History.append(db, action: action, subject: subject, details: details, at: Date())
            }
        }
        let all = try queue.read { db in try History.events(db) }
        func matches(_ entry: LedgerEntry, _ filter: LedgerFilter) -> Bool {
            if let kind = filter.kind, entry.action != kind { return false }
            if let env = filter.env, entry.details["env"] != env { return false }
            if let host = filter.host, entry.subject != host && entry.details["host"] != host { return false }
            if let release = filter.release, entry.subject != release && entry.details["release"] != release {
                return false
            }
            return true
        }
        var filters: [LedgerFilter] = []
        for kind in [nil, "host-report", "promote"] {
            for env in [nil, "production"] {
                for host in [nil, "h2"] {
                    for release in [nil, "sha256:r1"] {
                        filters.append(LedgerFilter(env: env, host: host, release: release, kind: kind))
                    }
                }
            }
        }
        for filter in filters {
            var seen: [Int64] = []
            var before: Int64? = nil
            var pages = 0
            while pages < 1_000 {
                let page = try queue.read { db in
                    try LedgerTimeline.page(db, filter: filter, before: before, limit: 37)
                }
                seen += page.entries.map(\.seq)
                pages += 1
                if let frontier = page.searchedDownTo {
                    before = frontier
                } else if page.entries.count == 37 {
                    before = page.entries.last!.seq
                } else {
                    break
                }
            }
            let expected = all.filter { matches($0, filter) }.map(\.seq).reversed()
            #expect(seen == Array(expected), "filter \(filter)")
        }
    }

    @Test func escapingMatchesHTMLsAndCopiesNothingItNeedNot() {
        let html = DashboardHTML()
        #expect(
            html.escapeText("<a href=\"x\">Tom & Jerry's</a>")
                == "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;")
        #expect(html.escapeText("sha256:abc 2026-12-04 ünïcödé") == "sha256:abc 2026-12-04 ünïcödé")
        #expect(html.escapeText("") == "")
    }

    @Test func timesAreShownInUTCAndRelative() throws {
        let now = try #require(Instant(rfc3339: "2026-12-04T18:00:00Z"))
        let moment = try #require(Moment("2026-12-04T17:57:00.123456789Z", now: now))
        #expect(moment.utc == "2026-12-04 17:57:00 UTC")
        #expect(moment.relative == "3 min ago")
        #expect(Moment("2026-12-06T18:00:00Z", now: now)?.relative == "in 2 d")
        #expect(Moment("not a time", now: now) == nil)
        #expect(Moment(nil, now: now) == nil)
        #expect(Moment.relative(2) == "just now")
    }

    @Test func sessionsEndWhenTheyExpireOrTheKeyDoesAndTokensAreCheckedExactly() {
        let sessions = DashboardSessions()
        let now = Date()
        let (cookie, session) = sessions.start(presented: "fxk_x", keyExpires: now.addingTimeInterval(60), now: now)
        #expect(session.expires == now.addingTimeInterval(60), "a key expiring sooner bounds the session")
        #expect(sessions.session(cookie: cookie, now: now)?.presented == "fxk_x")
        #expect(sessions.session(cookie: cookie, now: now.addingTimeInterval(61)) == nil)
        #expect(sessions.session(cookie: cookie, now: now) == nil, "an expired session is dropped")
        let (other, long) = sessions.start(presented: "fxk_y", keyExpires: nil, now: now)
        #expect(long.expires == now.addingTimeInterval(DashboardSessions.lifetime))
        #expect(DashboardSessions.matches(long.csrf, long.csrf))
        #expect(!DashboardSessions.matches(nil, long.csrf))
        let altered = String(long.csrf.dropLast()) + (long.csrf.hasSuffix("0") ? "1" : "0")
        #expect(!DashboardSessions.matches(altered, long.csrf), "one digit off is refused")
        sessions.end(cookie: other)
        #expect(sessions.session(cookie: other, now: now) == nil)
        #expect(cookie.count == 64 && cookie != other)
    }
}
