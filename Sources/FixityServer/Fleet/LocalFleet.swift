import FixityApp
import FixityCore
import FixityStore
import Foundation
import GRDB

/// The fleet in the embedded store (`FleetSchema`): every change and its ledger entry in one
/// transaction, every call on the thread pool.
struct LocalFleet: Fleet {
    let store: Store

    func enroll(_ enrollment: HostEnrollment, keyID: String) async throws -> HostView {
        guard HostName.isValid(enrollment.name) else {
            throw APIFailure.badInput(
                "host name '\(enrollment.name.prefix(80))': 1-64 letters, digits, '.', '_', '-', starting with a letter or digit"
            )
        }
        let publicKey: PublicKey
        do { publicKey = try PublicKey(policyText: enrollment.publicKey) } catch {
            throw APIFailure.badInput("public_key: \(error.message)")
        }
        return try await write { db in
            if let existing = try Row.fetchOne(
                db, sql: "SELECT name, revoked_at FROM hosts WHERE key_id = ?", arguments: [publicKey.id.hex])
            {
                // A key is enrolled once, ever: a revoked key stays refused, whatever name it asks for.
                let name: String = existing["name"]
                throw APIFailure(
                    .conflict, .conflict,
                    (existing["revoked_at"] as String?) == nil
                        ? "that public key is already enrolled as host '\(name)'"
                        : "that public key belonged to host '\(name)', which was revoked; enroll with a new identity")
            }
            if let live = try String.fetchOne(
                db, sql: "SELECT key_id FROM hosts WHERE name = ? AND revoked_at IS NULL", arguments: [enrollment.name])
            {
                throw APIFailure(
                    .conflict, .conflict,
                    "a host named '\(enrollment.name)' is already enrolled (key \(live.prefix(16))); "
                        + "to enroll a reinstalled host under that name, revoke it first: fixity host revoke \(enrollment.name)"
                )
            }
            // A revoked host of that name is a reinstalled one coming back: recorded as such.
            let replaces = try String.fetchOne(
                db, sql: "SELECT key_id FROM hosts WHERE name = ? ORDER BY enrolled_at DESC, rowid DESC LIMIT 1",
                arguments: [enrollment.name])
            let now = store.clock.timestamp()
            try db.execute(
                sql: """
                    INSERT INTO hosts (key_id, name, env, public_key, enrolled_at, enrolled_by)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [publicKey.id.hex, enrollment.name, enrollment.env, publicKey.policyText, now, keyID])
            try store.record(
                db, action: .hostEnroll, subject: enrollment.name,
                details: ["env": enrollment.env, "host_key": publicKey.id.hex, "key": keyID].merging(
                    replaces.map { ["replaces_host_key": $0] } ?? [:]
                ) { a, _ in a })
            return try Self.view(db, keyID: publicKey.id.hex, now: store.clock.now())!
        }
    }

    func host(keyID: KeyID) async throws -> HostRecord? {
        try await read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT name, env, public_key, revoked_at FROM hosts WHERE key_id = ?"),
                    arguments: [keyID.hex])
            else { return nil }
            let key = try PublicKey(policyText: row["public_key"] as String)
            guard key.id == keyID else {
                throw StoreError(.integrity, "hosts row for \(keyID.short) holds another public key")
            }
            // A host sealing what a window left (`after = "propose"`) may upload that release.
            let proposing =
                try Bool.fetchOne(
                    db,
                    sql: """
                        SELECT 1 FROM access_window_hosts h JOIN access_windows w ON w.id = h.window_id
                        WHERE h.key_id = ? AND w.after = 'propose' AND w.opened_at IS NOT NULL AND h.outcome IS NULL
                        """,
                    arguments: [keyID.hex]) ?? false
            return HostRecord(
                name: row["name"], env: row["env"], keyID: keyID, publicKey: key, revokedAt: row["revoked_at"],
                mayPropose: proposing)
        }
    }

    func revokeHost(_ name: String, keyID: String) async throws -> HostView {
        try await write { db in
            guard
                let id = try String.fetchOne(
                    db, sql: "SELECT key_id FROM hosts WHERE \(Self.currentByName)", arguments: [name])
            else { throw APIFailure.notFound("no host named '\(name.prefix(80))'") }
            let now = store.clock.timestamp()
            try db.execute(
                sql: "UPDATE hosts SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?", arguments: [now, id])
            if db.changesCount > 0 {
                try store.record(db, action: .hostRevoke, subject: name, details: ["host_key": id, "key": keyID])
            }
            return try Self.view(db, keyID: id, now: store.clock.now())!
        }
    }

    func hosts(env: String?) async throws -> [HostView] {
        try await read { db in
            let now = store.clock.now()
            // One row a name: a reinstalled host's revoked rows stay in the ledger, not the list.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM hosts WHERE (? IS NULL OR env = ?)
                    AND key_id = (SELECT n.key_id FROM hosts n WHERE n.\(Self.current(name: "hosts.name")))
                    ORDER BY name
                    """, arguments: [env, env])
            // What each environment's hosts should run, read once per environment (500 hosts
            // are three queries, not 1,500).
            var desired: [String: (String) -> String?] = [:]
            return try rows.map { row in
                let env: String = row["env"]
                if desired[env] == nil { desired[env] = try Self.desiredReleases(db, env: env) }
                return Self.view(row, desired: desired[env]!(row["key_id"]), now: now)
            }
        }
    }

    /// A function from a host's key id to the release it should run, for every host of `env`.
    static func desiredReleases(_ db: Database, env: String) throws -> (String) -> String? {
        let rollout = try RunningRollout.read(db, env: env)
        let standing = rollout == nil ? try EnvironmentDesired.read(db, env: env) : nil
        var waves: [String: Int] = [:]
        if let rollout {
            for row in try Row.fetchAll(
                db, sql: "SELECT key_id, wave FROM rollout_hosts WHERE rollout_id = ?", arguments: [rollout.id])
            {
                waves[row["key_id"]] = row["wave"]
            }
        }
        return { keyID in choose(env: env, rollout: rollout, wave: waves[keyID], desired: standing).release }
    }

    func history(host name: String, limit: Int) async throws -> HostHistory {
        try await read { db in
            guard
                let keyID = try String.fetchOne(
                    db, sql: "SELECT key_id FROM hosts WHERE \(Self.currentByName)", arguments: [name]),
                let view = try Self.view(db, keyID: keyID, now: store.clock.now())
            else { throw APIFailure.notFound("no host named \(name) is enrolled") }
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT received_at, body FROM host_reports WHERE key_id = ? ORDER BY seq DESC LIMIT ?",
                arguments: [keyID, limit])
            // Each body was parsed and its signature checked on arrival; one that no longer
            // parses is shown as missing rather than failing the page.
            let reports = rows.compactMap { row -> HostHistory.Received? in
                let body: String = row["body"]
                guard let report = try? JSONDecoder().decode(AgentReport.self, from: Data(body.utf8)) else {
                    return nil
                }
                return HostHistory.Received(receivedAt: row["received_at"], report: report)
            }
            return HostHistory(host: view, reports: reports)
        }
    }

    func recordRefusal(host: String, reason: String, route: String, address: String) async throws {
        _ = try await write { db in
            try store.record(
                db, action: .hostRefused, subject: host,
                details: ["reason": reason, "route": route, "address": address])
        }
    }

    // MARK: plumbing

    /// The host a name means now: its enrolled row, else its newest revoked one (a name is
    /// unique among hosts not revoked; a reinstalled host's old rows stay, refused).
    static let currentByName = current(name: "?")

    static func current(name: String) -> String {
        "name = \(name) ORDER BY revoked_at IS NOT NULL, enrolled_at DESC, rowid DESC LIMIT 1"
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await BlockingWork.run { [store] in
            try store.ensureSchema(ControlPlaneSchema.part)
            try store.ensureSchema(FleetSchema.part)
            try store.ensureSchema(AccessSchema.part)
            return try store.database.storeWrite(body)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await BlockingWork.run { [store] in
            try store.ensureSchema(ControlPlaneSchema.part)
            try store.ensureSchema(FleetSchema.part)
            try store.ensureSchema(AccessSchema.part)
            return try store.database.storeRead(body)
        }
    }

    /// A host as `env show` lists it, its state judged now (docs/agent.md, "Host states").
    static func view(_ db: Database, keyID: String, now: Date) throws -> HostView? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM hosts WHERE key_id = ?", arguments: [keyID]) else {
            return nil
        }
        return view(row, desired: try desiredRelease(db, env: row["env"], keyID: keyID).release, now: now)
    }

    /// A host's row as its view, given what it should run.
    static func view(_ row: Row, desired: String?, now: Date) -> HostView {
        let keyID: String = row["key_id"]
        let env: String = row["env"]
        let driftText: String = row["drift"]
        // Most hosts have no open drift: no decoder for them.
        let drift =
            driftText == "[]" ? [] : (try? JSONDecoder().decode([String].self, from: Data(driftText.utf8))) ?? []
        let state = HostStateRule.state(
            revoked: row["revoked_at"] != nil,
            lastSeen: (row["last_seen_at"] as String?).flatMap { Instant(rfc3339: $0)?.date },
            interval: row["interval_seconds"], now: now, lastEvent: (row["last_event"] as String?),
            drifted: !drift.isEmpty, release: row["release"], attempted: row["attempted"], desired: desired)
        return HostView(
            name: row["name"], env: env, keyID: keyID, enrolledAt: row["enrolled_at"], revokedAt: row["revoked_at"],
            state: state.rawValue, release: row["release"], deployment: row["deployment"], desired: desired,
            lastReportAt: row["last_report_at"], lastSeenAt: row["last_seen_at"], drift: drift, detail: row["detail"])
    }
}

/// A host's state from what it last said and when (docs/agent.md, "Host states").
enum HostState: String, Sendable, CaseIterable {
    case enrolled, converged, deploying, failed, drifted, offline, revoked
}

enum HostStateRule {
    /// Reports missed before a host counts as offline.
    static let missedIntervals = 3

    static func state(
        revoked: Bool, lastSeen: Date?, interval: Int, now: Date, lastEvent: String?, drifted: Bool,
        release: String?, attempted: String?, desired: String?
    ) -> HostState {
        if revoked { return .revoked }
        guard let lastSeen else { return .enrolled }
        if now.timeIntervalSince(lastSeen) > Double(missedIntervals * max(1, interval)) { return .offline }
        if drifted { return .drifted }
        if let desired, attempted == desired,
            lastEvent == AgentEvent.rolledBack.rawValue
                || lastEvent == AgentEvent.refused.rawValue
        {
            return .failed
        }
        if let desired, release != desired { return .deploying }
        // Nothing wanted and nothing run: heard from, but not converged on anything yet.
        if desired == nil && release == nil { return .enrolled }
        return .converged
    }
}
