import FixityCore
import FixityStore
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `fixity serve`: the control plane's HTTP API over a data folder. Runs until SIGTERM or
/// SIGINT, then stops accepting connections, lets requests in flight (an upload) finish, and
/// returns.
package struct ControlPlaneServer {
    let plane: any ControlPlane
    let settings: ServerSettings
    let logger: Logger
    let metrics = ServerMetrics()
    let throttle = FailureThrottle()
    let keyUses = KeyUseRecorder()
    let cache = CatalogCache()

    /// Serves the store at `dataFolder` (made on first use, as `seal` makes a store); with
    /// `database`, metadata and the ledger live in that PostgreSQL database instead and the
    /// data folder holds only blobs — several replicas may share both.
    package init(dataFolder: String, database: PostgresURL? = nil, settings: ServerSettings, logger: Logger) throws {
        if let database {
            plane = try PostgresControlPlane(url: database, dataFolder: dataFolder)
        } else {
            plane = LocalControlPlane(store: try Store.open(at: dataFolder))
        }
        self.settings = settings
        self.logger = logger
    }

    /// Serves until a shutdown signal; `announce` gets the address actually bound (port 0 is
    /// resolved by then), once the server accepts connections.
    package func run(announce: @escaping @Sendable (String) -> Void) async throws {
        let router = Router(context: ServerContext.self)
        router.middlewares.add(MetricsMiddleware(metrics: metrics))
        router.middlewares.add(AccessLogMiddleware())
        router.middlewares.add(FailureMiddleware())
        HealthRoutes.add(to: router, plane: plane, metrics: metrics)
        let v1 = router.group("v1").add(
            middleware: KeyGate(
                plane: plane, throttle: throttle, metrics: metrics, uses: keyUses, cache: cache,
                hosts: HostGate(fleet: plane.fleet, clock: plane.clock)))
        BlobRoutes.add(to: v1, plane: plane, metrics: metrics)
        ReleaseRoutes.add(to: v1, plane: plane, metrics: metrics)
        LedgerRoutes.add(to: v1, plane: plane, checkpointKey: settings.checkpointKey)
        EnvironmentRoutes.add(to: v1, plane: plane, cache: cache, metrics: metrics)
        KeyRoutes.add(to: v1, plane: plane)
        HostRoutes.add(to: v1, fleet: plane.fleet, environments: DefinedEnvironments(plane: plane), cache: cache)
        AgentRoutes.add(to: v1, fleet: plane.fleet, cache: cache, metrics: metrics, clock: plane.clock)
        AgentRoutes.addExecProgress(to: v1, fleet: plane.fleet, cache: cache)
        AccessRoutes.add(to: v1, fleet: plane.fleet, environments: DefinedEnvironments(plane: plane), cache: cache)
        Dashboard.add(
            to: router,
            dashboard: Dashboard(
                plane: plane, cache: cache, throttle: throttle, metrics: metrics,
                keys: KeyCheck(plane: plane, cache: cache, uses: keyUses), templates: try DashboardTemplates(),
                secure: settings.tls != nil))

        let http = HTTPServerBuilder.http1(
            configuration: .init(idleTimeout: .seconds(ServerLimits.idleSeconds)))
        let scheme = settings.tls == nil ? "http" : "https"
        let server: HTTPServerBuilder
        if let tls = settings.tls {
            server = try .tls(
                http, tlsConfiguration: try Self.tlsConfiguration(certificate: tls.certificate, key: tls.key))
        } else {
            server = http
        }
        let app = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "fixity"),
            services: [
                KeyUseFlusher(recorder: keyUses, plane: plane, logger: logger),
                plane.changeFeed(into: cache, logger: logger),
                RolloutEngine(fleet: plane.fleet, cache: cache, metrics: metrics, logger: logger),
                AccessEngine(fleet: plane.fleet, cache: cache, logger: logger),
            ],
            onServerRunning: { channel in
                let bound = channel.localAddress
                let host = bound?.ipAddress.map { $0.contains(":") ? "[\($0)]" : $0 } ?? settings.host
                announce("\(scheme)://\(host):\(bound?.port ?? settings.port)")
            },
            logger: logger)
        // A group is shut down last service first: the notice answers held polls before the
        // application waits for its requests in flight (a held poll among them) to finish.
        let group = ServiceGroup(
            configuration: .init(
                services: [app, ShutdownNotice(cache: cache, logger: logger)],
                gracefulShutdownSignals: [UnixSignal.sigterm, UnixSignal.sigint], logger: logger))
        try await group.run()
    }

    static func tlsConfiguration(certificate: String, key: String) throws -> TLSConfiguration {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate)
            guard !chain.isEmpty else { throw ServerSettingsError("--tls-cert \(certificate): no certificate in it") }
            let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            return TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        } catch let error as ServerSettingsError {
            throw error
        } catch {
            throw ServerSettingsError("--tls-cert \(certificate) / --tls-key \(key): \(error)")
        }
    }
}

/// One line per request on the server's log: method, path, status, key id, address, time.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: response.status.code, start: start)
            return response
        } catch {
            log(request, context, status: (error as? any HTTPResponseError)?.status.code ?? 500, start: start)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, start: ContinuousClock.Instant) {
        let address = (context as? ServerContext)?.address ?? "-"
        context.logger.info(
            "\(request.method) \(request.uri.path) \(status) from \(address) in \(Int(start.elapsedSeconds * 1e6)) µs")
    }
}

extension ControlPlaneServer {
    /// The server's log: one line per event on stderr (stdout carries only the listening line).
    package static func makeLogger(level: String) throws -> Logger {
        guard let parsed = Logger.Level(rawValue: level) else {
            throw ServerSettingsError(
                "--log-level \(level): one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "fixity.serve")
        logger.logLevel = parsed
        return logger
    }
}
