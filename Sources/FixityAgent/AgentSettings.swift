import FixityCore
import FixityHost
import FixityStore

/// How `fixity agent` runs (docs/agent.md).
package struct AgentSettings: Sendable {
    package let identity: HostIdentity
    /// The server to ask (default: the one the host enrolled with).
    package let server: String
    package let root: DeployRoot
    /// Seconds a poll is held open; also the heartbeat period (three missed: offline).
    package let interval: Int
    /// A Prometheus textfile written after each cycle and drift change.
    package let metricsFile: String?

    package init(
        identity: HostIdentity, server: String?, root: DeployRoot, interval: Int, metricsFile: String?
    ) {
        self.identity = identity
        self.server = server ?? identity.server
        self.root = root
        self.interval = interval
        self.metricsFile = metricsFile
    }
}

/// How one cycle ended: what `--once` exits with.
package enum CycleOutcome: Sendable, Equatable {
    /// Running the desired release, healthy (or nothing desired yet).
    case converged
    /// The deploy failed its health check and was rolled back (exit 1).
    case rolledBack(String)
    /// The desired state was refused: policy, signature, bad input (exit 2).
    case refused(String)
    /// Running the desired release, but its live tree drifted and the policy says `report`: the
    /// drift was reported and left as found (exit 1, as `fixity verify`).
    case drifted(String)
    /// Running the desired release; its live tree had drifted and was repaired under
    /// `drift = "repair"`, what was found kept as evidence (exit 0: the tree is as sealed).
    case repaired(String)

    package var exitCode: Int32 {
        switch self {
        case .converged, .repaired: 0
        case .rolledBack, .drifted: 1
        case .refused: 2
        }
    }
}
