import CoreMetrics
import Hummingbird
import HummingbirdCore
import InletMessages
import InletSchema
import Logging
import ServiceLifecycle

/// Assembles the HTTP application and its background services. `inlet serve` and the tests both
/// call this, so what is tested is what runs.
///
/// Services shut down in reverse order after the HTTP server (which Hummingbird runs last):
/// first the writers drain the queue, then the BI refresh, retention and erasure (their running
/// statements cancelled), readiness and the tenant directory stop.
public func buildApplication(
    configuration: ServerConfiguration, logger: Logger, metrics: IngestMetrics = IngestMetrics()
) throws -> some ApplicationProtocol {
    let migrations = try MigrationSet.embedded()
    let database = BlockingDatabase(url: configuration.databaseURL)
    let ingest = configuration.ingest
    let readiness = Readiness(
        database: database, migrations: migrations, interval: configuration.readinessInterval, logger: logger)
    let tenants = TenantDirectory(database: database, refreshInterval: ingest.tenantRefreshInterval, logger: logger)
    let erasure = ErasureWorker(database: database, interval: configuration.erasure.interval, logger: logger)
    let retention = RetentionJob(databaseURL: configuration.databaseURL, configuration: configuration.retention, logger: logger)
    let queue = IngestQueue(
        limits: .init(maxMessages: ingest.queueMaxMessages, maxBytes: ingest.queueMaxBytes, tenantShare: ingest.tenantQueueShare),
        metrics: metrics)
    let writers = WriterPool(
        queue: queue, databaseURL: configuration.databaseURL, configuration: ingest, metrics: metrics, logger: logger)
    var limits = MessageLimits()
    limits.maxMessageBytes = ingest.maxMessageBytes
    limits.maxDepth = ingest.maxDepth
    limits.maxMessagesPerBody = ingest.maxMessagesPerBody

    let router = Router()
    router.add(middleware: HTTPMetricsMiddleware(metrics: metrics))
    let health = HealthRoutes(
        readiness: readiness, databaseWritable: { queue.isDatabaseAvailable }, tenantsLoaded: { tenants.isLoaded })
    health.register(on: router)
    router.get("metrics") { _, _ in
        metrics.ready.record(health.answer().ready ? 1 : 0)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
    }
    IngestRoutes(
        tenants: tenants, queue: queue, parser: MessageParser(limits: limits), configuration: ingest,
        settings: SegmentSettings(database: database, logger: logger),
        bodyBudget: BodyBudget(limit: ingest.maxInFlightBodyBytes)
    ).register(on: router)
    if let adminToken = configuration.adminToken {
        AdminRoutes(
            adminToken: adminToken, database: database, integration: configuration.segmentIntegration,
            publicURL: configuration.publicURL, bi: configuration.bi
        ).register(on: router)
    }

    // Services stop in reverse order: the writers (last) drain first, then the BI refresh stops.
    var services: [any Service] = [tenants, readiness, erasure, retention]
    if let interval = configuration.biRefreshInterval {
        services.append(BIRefreshService(database: database, interval: interval, logger: logger))
    }
    services.append(writers)
    // Loaded here, so that a certificate that cannot be used stops `inlet serve` at start.
    let certificates = try configuration.tls.map { try CertificateStore(files: $0, metrics: metrics, logger: logger) }
    services.append(CertificateReloader(certificates: certificates, logger: logger))

    let idleNanoseconds = configuration.idleTimeout.components.seconds * 1_000_000_000
        + configuration.idleTimeout.components.attoseconds / 1_000_000_000
    return Application(
        router: router,
        server: HTTPServerBuilder { responder in
            let http = BoundedReadChannel(
                http: HTTP1Channel(
                    responder: responder,
                    configuration: .init(
                        additionalChannelHandlers: [ConnectionCloseHandler()], idleTimeout: .nanoseconds(idleNanoseconds))))
            guard let certificates else { return http }
            return ReloadingTLSChannel(base: http, certificates: certificates)
        },
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "inlet"),
        services: services,
        logger: logger
    )
}
