import Logging
import ServiceLifecycle

/// Says that the server is stopping, and answers every held long poll at once (agents' desired
/// answers, command output): without it SIGTERM waited, silently, for the longest poll to run
/// out — up to 300 s.
struct ShutdownNotice: Service {
    let cache: CatalogCache
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        guard Task.isShuttingDownGracefully else { return }
        logger.notice("stopping on signal: held polls answered now, requests in flight finishing")
        cache.stop()
    }
}
