import FixityApp
import FixityCore
import FixityStore
import FixityTrust
import Foundation
import GRDB

/// An operator's hand on a rollout (`fixity rollout pause|resume|abort ENV`, scope `promote:ENV`),
/// each a ledger entry naming the key and the reason:
///
///     running ── pause ──▶ paused     no wave starts, no halt; hosts keep what they run, and
///                                     what they report still counts for their wave
///     paused ── resume ──▶ running    the engine goes on where it stood (a bake already due ends)
///     running | paused ── abort ──▶ aborted   the environment back to the previous release, if
///                                     the policy in force still allows it there
extension LocalFleet {
    func controlRollout(env: String, _ control: RolloutControl, reason: String?, keyID: String) async throws
        -> RolloutView
    {
        let reason = reason.map { String($0.prefix(500)) }
        if control == .abort {
            // The return is a desired state like any other: the policy in force must allow it.
            // Judged before the write (the gate reads the ledger on its own connection).
            let previous = try await read { db in
                try String.fetchOne(
                    db, sql: "SELECT previous FROM rollouts WHERE env = ? ORDER BY id DESC LIMIT 1", arguments: [env])
            }
            if let previous, let digest = Digest(parsing: previous) {
                let decision = try await BlockingWork.run { [store] in
                    try PolicyGate(store: store).check(env: env, release: ReleaseID(digest), config: nil).decision
                }
                guard !decision.governed || decision.allowed else {
                    throw APIFailure(
                        .conflict, .refused,
                        "the rollout of \(env) not aborted: the policy in force refuses its previous release \(digest.short) there ("
                            + decision.missing.joined(separator: "; ") + "); promote a release it allows instead")
                }
            }
        }
        return try await write { [store] db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT id, state FROM rollouts WHERE env = ? ORDER BY id DESC LIMIT 1", arguments: [env])
            else { throw APIFailure.notFound("environment \(env) has had no rollout (fixity promote --waves)") }
            let id: Int64 = row["id"]
            let state = RolloutState(rawValue: row["state"]) ?? .completed
            let stamp = store.clock.timestamp()
            let view = try Self.rolloutView(db, id: id)
            var details = ["env": env, "key": keyID, "release": view.release, "wave": String(view.wave + 1)]
            if let reason { details["reason"] = reason }
            switch (control, state) {
            case (.pause, .running):
                try db.execute(sql: "UPDATE rollouts SET state = 'paused' WHERE id = ?", arguments: [id])
                try store.record(db, action: .rolloutPause, subject: String(id), details: details)
            case (.resume, .paused):
                try db.execute(sql: "UPDATE rollouts SET state = 'running' WHERE id = ?", arguments: [id])
                try store.record(db, action: .rolloutResume, subject: String(id), details: details)
            case (.abort, .running), (.abort, .paused):
                let why = "aborted by key \(keyID)" + (reason.map { ": \($0)" } ?? "")
                try db.execute(
                    sql: "UPDATE rollouts SET state = 'aborted', finished_at = ?, reason = ? WHERE id = ?",
                    arguments: [stamp, why, id])
                try store.record(db, action: .rolloutAbort, subject: String(id), details: details)
                try Self.returnToPrevious(db, store: store, view: view, why: "aborted", at: stamp)
            default:
                throw APIFailure(
                    .conflict, .conflict,
                    "rollout #\(id) of \(env) is \(state.rawValue): it cannot be \(Self.pastTense(control))"
                        + (state == .running && control == .resume ? " (it is not paused)" : ""))
            }
            return try Self.rolloutView(db, id: id)
        }
    }

    static func pastTense(_ control: RolloutControl) -> String {
        switch control {
        case .pause: "paused"
        case .resume: "resumed"
        case .abort: "aborted"
        }
    }
}
