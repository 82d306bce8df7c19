import FixityCore
import FixityLedger
import FixityStore
import GRDB

/// The roots' tables (`root_deployments`, `root_bindings`) against the ledger, for `log verify`:
/// every row must be backed by the entries that recorded it and agree with them, and every
/// `bind` entry must have its row. One sentence per mismatch, naming the row.
package enum RootLedgerCheck {
    /// Actions that are about one deployment on one root (their `root` detail names it).
    static let deploymentActions = LedgerAction.rootLifecycle

    package static func problems(store: Store) throws -> [String] {
        try RootSchema.read(store) { db in
            var problems = [String]()
            // Bindings ↔ bind entries.
            var bound = [String: String]()
            for row in try Row.fetchAll(db, sql: "SELECT root, env FROM root_bindings") {
                let root: String = row["root"]
                let env: String = row["env"]
                bound[root] = env
                let entry = try History.latest(db, action: LedgerAction.bind, subject: root) { _ in true }
                if entry?.details["env"] != env {
                    problems.append(
                        "root_bindings row \(root) -> \(env): \(entry.map { "ledger entry \($0.seq) says \($0.details["env"] ?? "?")" } ?? "no bind entry in the ledger records it")"
                    )
                }
            }
            for entry in try History.entries(db, actions: [LedgerAction.bind]) where bound[entry.subject] == nil {
                problems.append(
                    "ledger entry \(entry.seq) binds root \(entry.subject) to \(entry.details["env"] ?? "?"), but the root_bindings table has no such row"
                )
            }

            // Deployments ↔ their entries; health ↔ the newest health entry.
            var byKey = [String: [LedgerEntry]]()
            for entry in try History.entries(db, actions: deploymentActions) {
                guard let root = entry.details["root"] else { continue }
                byKey["\(root) \(entry.subject)", default: []].append(entry)
            }
            var rows = Set<String>()
            for row in try Row.fetchAll(db, sql: "SELECT root, deployment, health FROM root_deployments") {
                let root: String = row["root"]
                let deployment: String = row["deployment"]
                let health: String = row["health"]
                let key = "\(root) \(deployment)"
                rows.insert(key)
                guard let entries = byKey[key] else {
                    problems.append(
                        "root_deployments row \(root) \(deployment): no ledger entry records this deployment on this root (the ledger was truncated or the row inserted)"
                    )
                    continue
                }
                let expected = expectedHealth(entries.last { $0.action == "health" })
                if expected.rawValue != health {
                    problems.append(
                        "root_deployments row \(root) \(deployment): health \(health), but the ledger's health entries make it \(expected.rawValue)"
                    )
                }
            }
            for (key, entries) in byKey where !rows.contains(key) {
                problems.append(
                    "ledger entry \(entries[0].seq) is about deployment \(entries[0].subject) on root \(entries[0].details["root"] ?? "?"), but root_deployments has no such row"
                )
            }
            return problems.sorted()
        }
    }

    /// What the newest health entry of a deployment on a root makes its health.
    static func expectedHealth(_ entry: LedgerEntry?) -> RootHistory.Health {
        switch entry.flatMap({ HealthResult(rawValue: $0.details["result"] ?? "") }) {
        case .pass?, .noCheck?: .knownGood
        case .fail?: .knownBad
        case .interrupted?, nil: .pending
        }
    }
}
