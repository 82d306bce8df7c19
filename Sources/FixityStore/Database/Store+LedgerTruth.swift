import FixityCore
import FixityLedger
import Foundation
import GRDB

/// The ledger is the source of truth; the store's tables (releases, tags, envelopes, policies)
/// are caches of the entries that recorded them. Every input of a trust decision is checked
/// against its entry when it is used, and `log verify` checks every row against the ledger and
/// the ledger against the rows — so editing, inserting or deleting a row, or truncating the
/// ledger under the rows, is found rather than obeyed.
extension Store {
    /// A row that does not match the ledger (or an entry whose row is gone), named.
    static func tableEdited(_ what: String) -> StoreError {
        StoreError(
            .integrity,
            "\(what): the store's database was edited outside Fixity (the ledger is the record; fixity log verify lists every mismatch)"
        )
    }

    /// Checks a policy row against its text digest and the ledger: the row must be the one the
    /// newest `policy` entry recorded, so a replaced text, a deleted newer row or an inserted one
    /// are all refused.
    func checkPolicyRow(_ db: Database, _ policy: StoredPolicy?) throws {
        let newest = try History.newest(db, action: .policy)
        guard let policy else {
            if let newest {
                throw Self.tableEdited("ledger entry \(newest.seq) sets a policy, but the policies table is empty")
            }
            return
        }
        guard Digest.of(Array(policy.text.utf8)) == policy.digest else {
            throw Self.tableEdited(
                "policy \(policy.digest.short) (row \(policy.seq)): its text does not hash to its digest")
        }
        guard let newest, newest.subject == policy.digest.description,
            newest.details["policy_seq"] == String(policy.seq)
        else {
            throw Self.tableEdited(
                "policy \(policy.digest.short) (row \(policy.seq)) is not the policy the ledger's newest policy entry set"
            )
        }
    }

    /// Checks a tag row (or its absence) against the ledger's `tag` entries.
    func checkTag(_ db: Database, _ tag: TagName, release: String?) throws {
        let entries = try History.entries(db, actions: [LedgerAction.tag]).filter {
            $0.details["tag"] == tag.description
        }
        switch (release, entries.first) {
        case (nil, nil): return
        case (nil, let entry?):
            throw Self.tableEdited(
                "tag \(tag): ledger entry \(entry.seq) set it to \(entry.subject), but its row is gone")
        case (let release?, nil): throw Self.tableEdited("tag \(tag) -> \(release): no ledger entry set it")
        case (let release?, let entry?):
            guard entry.subject == release else {
                throw Self.tableEdited("tag \(tag) -> \(release): ledger entry \(entry.seq) set it to \(entry.subject)")
            }
        }
    }

    /// Checks an envelope row against its own digest and the entry that recorded it.
    func checkEnvelopeRow(_ db: Database, digest: Digest, release: String, text: String) throws {
        guard Digest.of(Array(text.utf8)) == digest else {
            throw Self.tableEdited("envelope \(digest.short) about \(release): its text does not hash to its digest")
        }
        let recorded =
            try History.latest(db, action: LedgerAction.sign, subject: release) {
                $0.details["envelope"] == digest.description
            }
            ?? History.latest(db, action: LedgerAction.attest, subject: release) {
                $0.details["envelope"] == digest.description
            }
        guard recorded != nil else {
            throw Self.tableEdited("envelope \(digest.short) about \(release): no ledger entry recorded it")
        }
    }

    /// Every row of the store's tables against the ledger, and every entry against its row.
    /// Returns one sentence per mismatch, naming the row or entry; empty when they agree.
    package func crossCheckLedger() throws -> [String] {
        try database.storeRead { db in
            var problems = [String]()
            func note(_ error: Error) { problems.append((error as? StoreError)?.message ?? "\(error)") }

            // Releases ↔ seal entries.
            let releaseRows = Set(
                try Row.fetchAll(db, sql: "SELECT id, app FROM releases").map {
                    "\($0["id"] as String) \($0["app"] as String)"
                })
            let sealEntries = try History.entries(db, actions: [LedgerAction.seal])
            let sealed = Set(sealEntries.map { "\($0.subject) \($0.details["app"] ?? "")" })
            for row in releaseRows.subtracting(sealed).sorted() {
                problems.append("release row \(row): no seal entry in the ledger records it")
            }
            for entry in sealEntries where !releaseRows.contains("\(entry.subject) \(entry.details["app"] ?? "")") {
                problems.append(
                    "ledger entry \(entry.seq) seals \(entry.subject) as \(entry.details["app"] ?? "?"), but the releases table has no such row"
                )
            }

            // Tags ↔ tag entries (both ways).
            let tagRows = try Row.fetchAll(db, sql: "SELECT app, version, release FROM tags")
            var tagged = Set<String>()
            for row in tagRows {
                let name = "\(row["app"] as String)@\(row["version"] as String)"
                tagged.insert(name)
                guard let tag = try? TagName(parsing: name) else {
                    problems.append("tag row \(name): not a valid tag name")
                    continue
                }
                do { try checkTag(db, tag, release: row["release"]) } catch { note(error) }
            }
            for entry in try History.entries(db, actions: [LedgerAction.tag])
            where !tagged.contains(entry.details["tag"] ?? "") {
                problems.append(
                    "ledger entry \(entry.seq) sets tag \(entry.details["tag"] ?? "?") -> \(entry.subject), but the tags table has no such row"
                )
            }

            // Envelopes ↔ sign/attest entries.
            var envelopeDigests = Set<String>()
            for row in try Row.fetchAll(db, sql: "SELECT digest, release, envelope FROM envelopes") {
                let text: String = row["digest"]
                envelopeDigests.insert(text)
                guard let digest = Digest(parsing: text) else {
                    problems.append("envelope row \(text): not a digest")
                    continue
                }
                do { try checkEnvelopeRow(db, digest: digest, release: row["release"], text: row["envelope"]) } catch {
                    note(error)
                }
            }
            for entry in try History.entries(db, actions: [LedgerAction.sign, LedgerAction.attest]) {
                guard let digest = entry.details["envelope"], !envelopeDigests.contains(digest) else { continue }
                problems.append(
                    "ledger entry \(entry.seq) records envelope \(digest) about \(entry.subject), but the envelopes table has no such row"
                )
            }

            // Policies ↔ policy entries: every row's text and its entry, and no entry without a row.
            let policyRows = try Row.fetchAll(db, sql: "SELECT seq, digest, text FROM policies ORDER BY seq")
            var policySeqs = Set<String>()
            for row in policyRows {
                let seq: Int64 = row["seq"]
                policySeqs.insert(String(seq))
                let digestText: String = row["digest"]
                let text: String = row["text"]
                if Digest.of(Array(text.utf8)).description != digestText {
                    problems.append("policy row \(seq): its text does not hash to its digest \(digestText)")
                }
                let recorded = try History.latest(db, action: LedgerAction.policy, subject: digestText) {
                    $0.details["policy_seq"] == String(seq)
                }
                if recorded == nil {
                    problems.append("policy row \(seq) (\(digestText)): no policy entry in the ledger records it")
                }
            }
            for entry in try History.entries(db, actions: [LedgerAction.policy])
            where !policySeqs.contains(entry.details["policy_seq"] ?? "") {
                problems.append(
                    "ledger entry \(entry.seq) sets policy \(entry.subject), but the policies table has no such row")
            }
            return problems
        }
    }
}
