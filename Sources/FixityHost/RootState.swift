import FixityCore
import FixityLedger
import FixityStore
import Foundation
import GRDB

/// One deployment as a root has seen it.
package struct RootDeployment: Sendable, Codable {
    package let deployment: Digest
    package let ordinal: Int64
    package let release: ReleaseID
    package let config: ReleaseID?
    package let configPath: String?
    package let env: String?
    package let health: RootHistory.Health
    package let reason: String?
    package let materialized: Bool
    package let deployedAt: String
    package let activatedAt: String?
    /// The hooks it was deployed with; nil for deployments recorded before they were kept.
    package let hooks: SwitchHooks?

    enum CodingKeys: String, CodingKey {
        case deployment, ordinal, release, config, configPath = "config_path", env, health, reason, materialized
        case deployedAt = "deployed_at", activatedAt = "activated_at", hooks
    }

    init(row: Row) throws {
        func digest(_ column: String) throws -> Digest {
            let text: String = row[column]
            guard let value = Digest(parsing: text) else {
                throw StoreError(.integrity, "root state: bad digest '\(text)' in \(column)")
            }
            return value
        }
        deployment = try digest("deployment")
        ordinal = row["ordinal"]
        release = ReleaseID(try digest("release"))
        config = (row["config"] as String?).flatMap(Digest.init(parsing:)).map(ReleaseID.init)
        configPath = row["config_path"]
        env = row["env"]
        health = RootHistory.Health(rawValue: row["health"]) ?? .pending
        reason = row["reason"]
        materialized = row["materialized"]
        deployedAt = row["deployed_at"]
        activatedAt = row["activated_at"]
        hooks = (row["hooks"] as String?).flatMap { try? JSONDecoder().decode(SwitchHooks.self, from: Data($0.utf8)) }
    }

    package var asDeployment: Deployment {
        // Stored pairs were valid when recorded; a config path is present exactly with a config.
        (try? Deployment(release: release, config: config, configPath: configPath))!
    }
}

/// The store's record of a root: every deployment it has seen, their health, which are
/// materialized. Every change is written together with its history entry.
package struct RootState {
    let store: Store
    let root: DeployRoot

    package init(store: Store, root: DeployRoot) {
        self.store = store
        self.root = root
    }

    package func all() throws -> [RootDeployment] {
        try RootSchema.read(store) { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM root_deployments WHERE root = ? ORDER BY ordinal", arguments: [root.key]
            ).map(RootDeployment.init(row:))
        }
    }

    package func find(_ deployment: Digest) throws -> RootDeployment? {
        try all().first { $0.deployment == deployment }
    }

    package func history(active: Digest?) throws -> RootHistory {
        RootHistory(
            records: try all().map {
                RootHistory.Record(
                    deployment: $0.deployment, ordinal: $0.ordinal, health: $0.health,
                    materialized: root.isMaterialized($0.deployment))
            }, active: active)
    }

    /// Records a deployment the first time this root sees it (its ordinal fixes its age).
    /// `hooks` (when given) replaces the ones recorded: a deploy records what it was asked to run.
    /// `event` is appended in the same transaction, so a row never exists without an entry that
    /// records it (a kill between the two would leave a row the ledger does not back).
    package func register(
        _ deployment: Deployment, env: String?, hooks: SwitchHooks? = nil, event: LedgerAction? = nil,
        details: [String: String] = [:]
    ) throws {
        let hooksText = try hooks.map { String(decoding: try JSONStyle.compact.encoder().encode($0), as: UTF8.self) }
        try RootSchema.write(store) { db in
            if let event {
                var all = details
                all["root"] = root.key
                try store.record(db, action: event, subject: deployment.id.description, details: all)
            }
            let exists =
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM root_deployments WHERE root = ? AND deployment = ?",
                    arguments: [root.key, deployment.id.description]) ?? false
            if exists {
                try db.execute(
                    sql: "UPDATE root_deployments SET env = ? WHERE root = ? AND deployment = ?",
                    arguments: [env, root.key, deployment.id.description])
                if let hooksText {
                    try db.execute(
                        sql: "UPDATE root_deployments SET hooks = ? WHERE root = ? AND deployment = ?",
                        arguments: [hooksText, root.key, deployment.id.description])
                }
                return
            }
            let ordinal =
                try Int64.fetchOne(
                    db, sql: "SELECT COALESCE(MAX(ordinal) + 1, 0) FROM root_deployments WHERE root = ?",
                    arguments: [root.key]) ?? 0
            try db.execute(
                sql: """
                    INSERT INTO root_deployments (root, deployment, ordinal, release, config, config_path, env, health, materialized, deployed_at, hooks)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
                    """,
                arguments: [
                    root.key, deployment.id.description, ordinal, deployment.release.description,
                    deployment.config?.description, deployment.configPath, env, store.clock.timestamp(), hooksText,
                ])
        }
    }

    /// Sets a column of one deployment and appends the history entry that explains it.
    package func update(
        _ deployment: Digest, materialized: Bool? = nil, health: RootHistory.Health? = nil, reason: String? = nil,
        activated: Bool = false, event: LedgerAction, details: [String: String] = [:]
    ) throws {
        try RootSchema.write(store) { db in
            let id = deployment.description
            if let materialized {
                try db.execute(
                    sql: "UPDATE root_deployments SET materialized = ? WHERE root = ? AND deployment = ?",
                    arguments: [materialized, root.key, id])
            }
            if let health {
                try db.execute(
                    sql: "UPDATE root_deployments SET health = ?, reason = ? WHERE root = ? AND deployment = ?",
                    arguments: [health.rawValue, reason, root.key, id])
            }
            if activated {
                try db.execute(
                    sql: "UPDATE root_deployments SET activated_at = ? WHERE root = ? AND deployment = ?",
                    arguments: [store.clock.timestamp(), root.key, id])
            }
            var all = details
            all["root"] = root.key
            if let reason, all["reason"] == nil { all["reason"] = reason }
            try store.record(db, action: event, subject: id, details: all)
        }
    }

    /// The environment this root is bound to, nil when it was never deployed with --env. The
    /// row is checked against the `bind` ledger entry that recorded it: a row the ledger does not
    /// back (or an entry whose row is gone) is an edited database, refused.
    package func binding() throws -> String? {
        try RootSchema.read(store) { db -> String? in
            let row = try String.fetchOne(
                db, sql: "SELECT env FROM root_bindings WHERE root = ?", arguments: [root.key])
            let entry = try History.latest(db, action: LedgerAction.bind, subject: root.key) { _ in true }
            switch (row, entry) {
            case (nil, nil):
                return nil
            case (let env?, let entry?) where entry.details["env"] == env:
                return env
            case (nil, let entry?):
                throw StoreError(
                    .integrity,
                    "root \(root.path): ledger entry \(entry.seq) binds it to \(entry.details["env"] ?? "?"), but the store's root_bindings row is gone: the database was edited (fixity log verify)"
                )
            case (let env?, let entry):
                throw StoreError(
                    .integrity,
                    "root \(root.path): root_bindings says \(env), but \(entry.map { "ledger entry \($0.seq) says \($0.details["env"] ?? "?")" } ?? "no ledger entry records it"): the database was edited (fixity log verify)"
                )
            }
        }
    }

    /// Whether the ledger records a switch of this root to `deployment` (an `activate` or a
    /// `rollback` entry): false means what `current` shows is not in the ledger — truncated or
    /// edited.
    package func activationRecorded(_ deployment: Digest) throws -> Bool {
        try RootSchema.read(store) { db in
            for action in [LedgerAction.activate, .rollback]
            where try History.latest(
                db, action: action, subject: deployment.description, matching: { $0.details["root"] == root.key })
                != nil
            {
                return true
            }
            return false
        }
    }

    /// Binds this root to `env` for good, with its ledger entry, in one transaction.
    package func bind(env: String) throws {
        try RootSchema.write(store) { db in
            try db.execute(
                sql: "INSERT INTO root_bindings (root, env, bound_at) VALUES (?, ?, ?)",
                arguments: [root.key, env, store.clock.timestamp()])
            try store.record(
                db, action: LedgerAction.bind, subject: root.key, details: ["root": root.key, "env": env])
        }
    }

    /// Appends a `drift` entry when the drift state of the active deployment differs from the
    /// last one recorded for it (so a drift is recorded once, not once per verify run, and its
    /// clearing is recorded too). Returns the entry's sequence number, nil when nothing changed.
    @discardableResult
    package func recordDrift(_ outcome: VerifyOutcome) throws -> Int64? {
        let deployment = outcome.deployment.description
        let state = (outcome.clean ? DriftStateDetail.clean : .drifted(outcome.report.stateDigest)).text
        return try RootSchema.write(store) { db -> Int64? in
            let last = try History.latest(db, action: .drift, subject: deployment) { $0.details["root"] == root.key }
            let previous = last?.details["state"] ?? DriftStateDetail.cleanText
            guard previous != state else { return nil }
            var details = [
                "root": root.key, "deployment": deployment, "state": state, "clean": LedgerDetail.flag(outcome.clean),
            ]
            for kind in ChangeKind.allCases { details[kind.rawValue] = String(outcome.report.paths(kind).count) }
            return try store.record(db, action: .drift, subject: deployment, details: details)
        }
    }

    /// This root's history entries, newest last.
    package func events(limit: Int) throws -> [LedgerEntry] {
        try RootSchema.read(store) { db in
            try History.events(db).filter { $0.details["root"] == root.key }.suffix(limit).map { $0 }
        }
    }
}
