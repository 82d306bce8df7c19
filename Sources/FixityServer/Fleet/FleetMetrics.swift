import FixityCore
import Foundation
import Prometheus

/// The fleet in `GET /metrics`: hosts by state per environment, each environment's newest
/// rollout (its wave and hosts by outcome), and how late reports arrive.
extension ServerMetrics {
    /// Gauges set from the database (the engine calls this every few seconds).
    func observeFleet(_ fleet: any Fleet) async throws {
        if fleet is UnavailableFleet { return }  // no fleet kept here: no gauges, rather than zeros
        let hosts = try await fleet.hosts(env: nil)
        var counts = [String: [String: Int]]()
        for host in hosts { counts[host.env, default: [:]][host.state, default: 0] += 1 }
        for (env, byState) in counts {
            for state in HostState.allCases {
                registry.makeGauge(
                    descriptor: Self.name("hosts", "", "Hosts by state, per environment."),
                    labels: [("env", env), ("state", state.rawValue)]
                ).set(Double(byState[state.rawValue] ?? 0))
            }
            guard let rollout = try await fleet.rollout(env: env) else { continue }
            registry.makeGauge(
                descriptor: Self.name(
                    "rollout_wave", "", "The newest rollout's current wave (from 1), per environment."),
                labels: [("env", env)]
            ).set(Double(rollout.wave + 1))
            for state in RolloutState.allCases.map(\.rawValue) {
                registry.makeGauge(
                    descriptor: Self.name("rollout_state", "", "1 for the newest rollout's state, per environment."),
                    labels: [("env", env), ("state", state)]
                ).set(Double(rollout.state == state ? 1 : 0))
            }
            for outcome in ["waiting", "pending", "healthy", "failed", "rolled_back"] {
                registry.makeGauge(
                    descriptor: Self.name(
                        "rollout_hosts", "", "Hosts of the newest rollout by outcome, per environment."),
                    labels: [("env", env), ("outcome", outcome)]
                ).set(Double(rollout.hosts.filter { $0.state == outcome }.count))
            }
        }
    }

    /// Seconds from a report's event on the host to its arrival (clocks allowing).
    func reportArrived(event: AgentEvent, time: String, now: Date) {
        guard let happened = Instant(rfc3339: time)?.date else { return }
        registry.makeValueHistogram(
            descriptor: Self.name("report_latency", "seconds", "From a host's event to its report's arrival."),
            labels: [("event", event.rawValue)], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
        ).record(max(0, now.timeIntervalSince(happened)))
    }
}
