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

    package var exitCode: Int32 {
        switch self {
        case .converged: 0
        case .rolledBack: 1
        case .refused: 2
        }
    }
}
