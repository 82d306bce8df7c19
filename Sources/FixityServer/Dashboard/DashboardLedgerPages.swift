import FixityApp
import FixityCore
import FixityLedger
import Foundation
import Hummingbird

/// The ledger: a timeline newest first, filtered by environment, host, release and kind through
/// the ledger's facet indexes and paged by sequence number (never by offset: the millionth
/// page costs what the first does); each entry with its inclusion proof; and "state at" an
/// instant. Scope as `GET /v1/ledger`: `ledger:read`.
enum DashboardLedgerPages {
    static let pageSize = 50

    struct Kind {
        let name: String
        let selected: Bool
    }
    struct Row {
        let seq: Int64
        let at: Moment?
        let action: String
        let subject: String
        let details: [DetailPair]
    }
    struct Filter {
        let env: String
        let host: String
        let release: String
    }
    struct Timeline {
        let chrome: Chrome
        let size: Int
        let filter: Filter
        let kinds: [Kind]
        let environments: [String]
        let now: String
        let entries: [Row]
        let hasEntries: Bool
        let filtered: Bool
        let before: Int64?
        let newer: String?
        let older: String?
        let searchedDownTo: Int64?
        let rendered: String
    }
    struct EntryPage {
        let chrome: Chrome
        let seq: Int64
        let at: Moment?
        let action: String
        let subject: String
        let actor: String
        let machine: String
        let details: [DetailPair]
        let verified: Bool
        let verdict: String
        let leaf: String
        let treeSize: Int
        let root: String
        let path: [String]
        let canonical: String
        let rendered: String
    }

    static func add(to pages: RouterGroup<ServerContext>, dashboard: Dashboard) {
        pages.get("ledger") { request, context in
            try context.require(.ledgerRead)
            let chrome = try context.requireDashboard().chrome
            let query = request.uri.queryParameters
            let filter = try filter(query)
            let before = try query.get("before").map { text -> Int64 in
                guard let seq = Int64(text), seq > 0 else {
                    throw APIFailure.badInput("before='\(text.prefix(40))' is not an entry number")
                }
                return seq
            }
            let now = dashboard.now
            let size = try await dashboard.plane.ledgerSize()
            let found = try await dashboard.plane.ledgerTimeline(filter, before: before, limit: pageSize + 1)
            let entries = found.entries
            let shown = entries.prefix(pageSize)
            // A search that stopped at its budget goes on below where it stopped.
            let olderFrom = entries.count > pageSize ? shown.last?.seq : found.searchedDownTo
            let link = { (before: Int64?) -> String in
                var parts: [(String, String)] = []
                if let env = filter.env { parts.append(("env", env)) }
                if let host = filter.host { parts.append(("host", host)) }
                if let release = filter.release { parts.append(("release", release)) }
                if let kind = filter.kind { parts.append(("kind", kind)) }
                if let before { parts.append(("before", String(before))) }
                return "/dashboard/ledger"
                    + (parts.isEmpty ? "" : "?" + parts.map { "\($0)=\(escape($1))" }.joined(separator: "&"))
            }
            let page = Timeline(
                chrome: chrome, size: size,
                filter: Filter(env: filter.env ?? "", host: filter.host ?? "", release: filter.release ?? ""),
                kinds: LedgerAction.allCases.map { Kind(name: $0.rawValue, selected: $0.rawValue == filter.kind) },
                environments: try await dashboard.plane.environmentNames(), now: now.wholeSecondsText,
                entries: shown.map {
                    Row(
                        seq: $0.seq, at: Moment($0.time, now: now), action: $0.action, subject: $0.subject,
                        details: DetailPair.list($0.details))
                },
                hasEntries: !shown.isEmpty, filtered: !filter.isEmpty, before: before,
                newer: before == nil ? nil : link(nil),
                older: olderFrom.map { link($0) }, searchedDownTo: found.searchedDownTo, rendered: now.wholeSecondsText)
            return dashboard.page(page, "ledger")
        }

        pages.get("ledger/{seq}") { _, context in
            try context.require(.ledgerRead)
            let chrome = try context.requireDashboard().chrome
            let (entry, proof) = try await proven(try seq(context), dashboard)
            let verified = proof.verifies(against: proof.rootHash)
            let now = dashboard.now
            return dashboard.page(
                EntryPage(
                    chrome: chrome, seq: entry.seq, at: Moment(entry.time, now: now), action: entry.action,
                    subject: entry.subject, actor: entry.actor, machine: entry.host,
                    details: DetailPair.list(entry.details), verified: verified,
                    verdict: verified
                        ? "Verified here: the entry's leaf and this audit path hash to the root of the tree of \(proof.treeSize) entries."
                        : "This proof does NOT verify: the ledger's stored tree disagrees with its entries (run fixity log verify).",
                    leaf: proof.leafHash, treeSize: proof.treeSize, root: proof.rootHash, path: proof.auditPath,
                    canonical: String(decoding: entry.canonicalBytes(), as: UTF8.self), rendered: now.wholeSecondsText),
                "entry")
        }

        pages.get("ledger/{seq}/proof.json") { _, context in
            try context.require(.ledgerRead)
            let (_, proof) = try await proven(try seq(context), dashboard)
            var response = try JSONBodies.response(proof)
            response.headers[.contentSecurityPolicy] = DashboardResponse.contentSecurityPolicy
            response.headers[.contentDisposition] =
                "attachment; filename=\"fixity-ledger-\(proof.leafIndex).proof.json\""
            return response
        }

        pages.get("state") { request, context in
            try context.require(.ledgerRead)
            let chrome = try context.requireDashboard().chrome
            let query = request.uri.queryParameters
            // No instant asked (the link, a bookmark): the state now, with the form to ask another.
            let instant: Instant
            if let text = query.get("at"), !text.isEmpty {
                guard let parsed = Instant(rfc3339: text) else {
                    throw APIFailure.badInput("at: give an RFC 3339 time in UTC (e.g. 2026-11-29T03:00:00Z)")
                }
                instant = parsed
            } else {
                instant = dashboard.now
            }
            let env = try query.get("env").flatMap { $0.isEmpty ? nil : try AccessRoutes.environmentName($0) }
            let log = dashboard.plane.ledgerLog
            let answer = try await BlockingWork.run { try ServerStateAt.answer(log, at: instant, env: env) }
            return dashboard.page(DashboardStatePage(answer, chrome: chrome, now: dashboard.now), "state")
        }
    }

    static func filter(_ query: Parameters) throws -> LedgerFilter {
        func value(_ name: String) throws -> String? {
            guard let text = query.get(name)?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            guard text.utf8.count <= 200 else { throw APIFailure.badInput("\(name): at most 200 characters") }
            return text
        }
        let kind = try value("kind")
        if let kind, LedgerAction(rawValue: kind) == nil {
            throw APIFailure.badInput("kind '\(kind.prefix(40))' is not a ledger action (docs/ledger.md lists them)")
        }
        return LedgerFilter(env: try value("env"), host: try value("host"), release: try value("release"), kind: kind)
    }

    static func seq(_ context: ServerContext) throws -> Int64 {
        let text = try ReleaseRoutes.pathParameter("seq", context)
        guard let seq = Int64(text), seq >= 0 else {
            throw APIFailure.badInput("'\(text.prefix(40))' is not an entry number")
        }
        return seq
    }

    /// An entry and its inclusion proof in the tree of the ledger's size now.
    static func proven(_ seq: Int64, _ dashboard: Dashboard) async throws -> (LedgerEntry, InclusionProof) {
        let log = dashboard.plane.ledgerLog
        return try await BlockingWork.run {
            let size = try log.size()
            guard seq < Int64(size), let entry = try log.entry(seq: seq) else {
                throw APIFailure.notFound("the ledger has \(size) entries; no entry #\(seq)")
            }
            return (entry, try log.inclusionProofDocument(seq: seq, size: size))
        }
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~:@")))
            ?? ""
    }
}

/// "State at" an instant, from the ledger alone.
struct DashboardStatePage {
    struct Policy {
        let digest: ShownDigest
        let since: Moment?
        let seq: Int64
    }
    struct Environment {
        let env: String
        let release: ShownDigest
        let since: Moment?
        let until: Moment?
        let key: String
        let seq: Int64
    }
    let chrome: Chrome
    let at: String
    let treeSize: Int
    let rootShort: String
    let policy: Policy?
    let environments: [Environment]
    let hasEnvironments: Bool
    let rendered: String

    init(_ answer: ServerStateAt.Answer, chrome: Chrome, now: Instant) {
        self.chrome = chrome
        at = answer.at
        treeSize = answer.treeSize
        rootShort = String(answer.rootHash.prefix(16))
        policy = answer.policy.map {
            Policy(digest: ShownDigest($0.digest), since: Moment($0.since, now: now), seq: $0.seq)
        }
        environments = answer.environments.map {
            Environment(
                env: $0.env, release: .release($0.release), since: Moment($0.since, now: now),
                until: Moment($0.until, now: now), key: $0.key ?? "-", seq: $0.seq)
        }
        hasEnvironments = !environments.isEmpty
        rendered = now.wholeSecondsText
    }
}
