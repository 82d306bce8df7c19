import Hummingbird
import Prometheus
import Synchronization

/// The server's Prometheus metrics (`GET /metrics`): requests by route template and status,
/// their latency, bytes in and out, blobs stored, releases admitted, refusals by reason. Kept
/// in a registry of its own, not the process-wide metrics system, so two servers in one process
/// (tests) never mix their counts.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let bytesIn: Counter
    let bytesOut: Counter
    let blobsStored: Counter
    let releasesAdmitted: Counter
    let promotions: Counter

    init() {
        bytesIn = registry.makeCounter(descriptor: Self.name("blob_bytes_in", "total", "Blob bytes received in packs."))
        bytesOut = registry.makeCounter(descriptor: Self.name("blob_bytes_out", "total", "Blob bytes sent in packs."))
        blobsStored = registry.makeCounter(
            descriptor: Self.name("blobs_stored", "total", "Blobs stored as new objects."))
        releasesAdmitted = registry.makeCounter(
            descriptor: Self.name("releases_admitted", "total", "Releases recorded from pushes."))
        promotions = registry.makeCounter(
            descriptor: Self.name("promotions", "total", "Desired states set by promotion."))
    }

    func refused(_ reason: String) {
        registry.makeCounter(
            descriptor: Self.name("refusals", "total", "Requests refused, by reason."), labels: [("reason", reason)]
        ).increment()
    }

    private struct RouteKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    /// The counter and histogram of each (route, method, status), made once: the registry's
    /// lookup by name and labels would otherwise run on every request.
    private let handles = Mutex<[RouteKey: (Counter, ValueHistogram)]>([:])

    func request(route: String, method: String, status: Int, seconds: Double) {
        let key = RouteKey(route: route, method: method, status: status)
        let (counter, histogram) = handles.withLock { handles in
            if let known = handles[key] { return known }
            let made = (
                registry.makeCounter(
                    descriptor: Self.name("http_requests", "total", "Requests by route template and status."),
                    labels: [("route", route), ("method", method), ("status", String(status))]),
                registry.makeValueHistogram(
                    descriptor: Self.name(
                        "http_request_duration", "seconds", "Time to the response's last byte, by route template."),
                    labels: [("route", route), ("method", method)],
                    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60])
            )
            handles[key] = made
            return made
        }
        counter.increment()
        histogram.record(seconds)
    }

    func text() -> [UInt8] { registry.emitToBuffer() }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "fixity", metricName: metric, unitName: unit, helpText: help)
    }
}

/// Counts and times every request under the route template it matched (`/v1/releases/{id}`,
/// never the id itself, so the label set stays bounded); unmatched routes count as `unmatched`.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        let method = request.method.rawValue
        do {
            var response = try await next(request, context)
            let status = response.status.code
            let route = context.endpointPath ?? "unmatched"
            let body = response.body
            response.body = ResponseBody(contentLength: body.contentLength) { [metrics] writer in
                // Timed to the last byte written: a streamed blob pack counts whole.
                let copy = body
                try await copy.write(writer)
                metrics.request(route: route, method: method, status: status, seconds: start.elapsedSeconds)
            }
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(
                route: context.endpointPath ?? "unmatched", method: method, status: status,
                seconds: start.elapsedSeconds)
            throw error
        }
    }
}

extension ContinuousClock.Instant {
    var elapsedSeconds: Double {
        let elapsed = ContinuousClock.now - self
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
