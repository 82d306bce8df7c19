import Logging
import ServiceLifecycle

/// Moves running rollouts on (`Fleet.advanceRollouts`) four times a second, and wakes the
/// agents' long polls when one moved. Its state is all in the database: a server killed and
/// restarted picks every rollout up where it stood.
struct RolloutEngine: Service {
    let fleet: any Fleet
    let cache: CatalogCache
    let metrics: ServerMetrics
    let logger: Logger

    func run() async throws {
        var tick = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if try await fleet.advanceRollouts() { cache.changed() }
                if tick % 8 == 0 { try await metrics.observeFleet(fleet) }
                tick += 1
            } catch {
                logger.warning("rollouts: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }
}
