/// Where a rollout stands (docs/agent.md, "Rollouts"). `running` and `paused` are active: the
/// hosts of started waves run the rollout's release; only `running` moves on to the next wave.
enum RolloutState: String, Sendable, CaseIterable {
    case running, paused, completed, halted, superseded, aborted

    static let active: [RolloutState] = [.running, .paused]

    /// `('running', 'paused')`, for a query's `state IN …`.
    static let activeSQL = "(" + active.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"
}

/// What an operator may do to a rollout: `fixity rollout pause|resume|abort ENV`.
package enum RolloutControl: String, Sendable, CaseIterable {
    case pause, resume, abort
}

/// `POST /v1/rollouts/{env}/pause|resume|abort`: why, for the ledger.
package struct RolloutControlBody: Codable, Sendable {
    package let reason: String?
    package init(reason: String?) { self.reason = reason }
}
