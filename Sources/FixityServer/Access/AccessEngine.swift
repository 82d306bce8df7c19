import Logging
import ServiceLifecycle

/// Ends windows whose TTL ran out (and requests never approved in time) four times a second,
/// each with its `access-close` entry, and wakes the agents' long polls so the hosts collect
/// what the window left. A window is judged expired by the clock at every request regardless:
/// this only records it.
struct AccessEngine: Service {
    let fleet: any Fleet
    let cache: CatalogCache
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if try await fleet.expireWindows() { cache.changed() }
            } catch {
                logger.warning("access windows: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }
}
