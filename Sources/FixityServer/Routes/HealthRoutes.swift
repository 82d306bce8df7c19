import Hummingbird

/// The routes a load balancer and a monitor use, without a key: `/healthz` (the process
/// serves), `/readyz` (its database answers), `/metrics` (Prometheus text), `/openapi.yaml`.
enum HealthRoutes {
    static func add(to router: Router<ServerContext>, plane: any ControlPlane, metrics: ServerMetrics) {
        router.get("/healthz") { _, _ in text("ok\n") }
        router.get("/readyz") { _, context -> Response in
            do {
                try await plane.ping()
                return text("ready\n")
            } catch {
                context.logger.error("readyz: the database does not answer: \(error)")
                return text("the database does not answer\n", status: .serviceUnavailable)
            }
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.text())))
        }
        router.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
    }

    static func text(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
