import Configuration

/// Settings of `inlet serve`, read from the environment (flags may override).
public struct ServerConfiguration: Sendable {
    /// Interface to listen on.
    public var host: String
    public var port: Int
    /// libpq connection URI or keyword string.
    public var databaseURL: String
    /// How often the database and schema are checked for `/readyz`.
    public var readinessInterval: Duration
    /// The ingest path's limits, queue and writers.
    public var ingest = IngestConfiguration()
    /// Bearer token of the admin API; the API is absent when nil.
    public var adminToken: String?
    /// This service's public base URL, where Segment returns users after the enable flow.
    public var publicURL: String?
    /// The integration's name in Segment (the enable URL's `integration`).
    public var segmentIntegration = "inlet"
    /// A connection that sends nothing for this long is closed, so stalled (slow-loris) clients
    /// do not hold connections forever. Longer than a load balancer's idle timeout (AWS ALB: 60 s),
    /// so the balancer, not Inlet, closes idle keep-alive connections.
    public var idleTimeout: Duration = .seconds(75)
    /// How often the server refreshes every tenant's BI views (new events and fields become
    /// columns); nil: never (operators run `inlet bi refresh`).
    public var biRefreshInterval: Duration? = .seconds(300)
    /// Settings of the BI roles the admin API creates.
    public var bi = BIRoleConfiguration()
    /// How erasure requests are carried out.
    public var erasure = ErasureConfiguration()
    /// What the daily retention job removes.
    public var retention = RetentionConfiguration()
    /// The certificate and key when the server speaks TLS itself; nil: plain HTTP (behind a
    /// load balancer that terminates TLS).
    public var tls: TLSFiles?

    public init(host: String = "0.0.0.0", port: Int = 8080, databaseURL: String, readinessInterval: Duration = .seconds(1)) {
        self.host = host
        self.port = port
        self.databaseURL = databaseURL
        self.readinessInterval = readinessInterval
    }

    /// Reads:
    /// - `DATABASE_URL` (`database.url`, secret, required)
    /// - `INLET_HOST` (`inlet.host`, default `0.0.0.0`)
    /// - `INLET_PORT` (`inlet.port`, default `8080`)
    /// - `INLET_READINESS_INTERVAL_MS` (`inlet.readiness.interval.ms`, default `1000`)
    /// - `INLET_ADMIN_TOKEN` (secret; the admin API is off without it), `INLET_PUBLIC_URL`,
    ///   `INLET_SEGMENT_INTEGRATION` (default `inlet`), `INLET_IDLE_TIMEOUT_MS` (default `75000`)
    /// - `INLET_BI_REFRESH_INTERVAL_MS` (default `300000`; `0` turns the periodic refresh off)
    /// - the ingest knobs of ``IngestConfiguration/init(reader:)``, the BI role knobs of
    ///   ``BIRoleConfiguration/init(reader:)``, erasure's of ``ErasureConfiguration/init(reader:)``
    ///   and retention's of ``RetentionConfiguration/init(reader:)``
    /// - `INLET_TLS_CERT`, `INLET_TLS_KEY`, `INLET_TLS_RELOAD_INTERVAL_MS` (``TLSFiles``)
    public init(reader: ConfigReader) throws {
        self.init(
            host: reader.string(forKey: "inlet.host", default: "0.0.0.0"),
            port: reader.int(forKey: "inlet.port", default: 8080),
            databaseURL: try reader.requiredString(forKey: "database.url", isSecret: true),
            readinessInterval: .milliseconds(reader.int(forKey: "inlet.readiness.interval.ms", default: 1_000)))
        ingest = IngestConfiguration(reader: reader)
        adminToken = reader.string(forKey: "inlet.admin.token", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        publicURL = reader.string(forKey: "inlet.public.url")
        segmentIntegration = reader.string(forKey: "inlet.segment.integration", default: "inlet")
        idleTimeout = .milliseconds(reader.int(forKey: "inlet.idle.timeout.ms", default: 75_000))
        let biRefresh = reader.int(forKey: "inlet.bi.refresh.interval.ms", default: 300_000)
        biRefreshInterval = biRefresh > 0 ? .milliseconds(biRefresh) : nil
        bi = BIRoleConfiguration(reader: reader)
        erasure = try ErasureConfiguration(reader: reader)
        retention = try RetentionConfiguration(reader: reader)
        tls = try TLSFiles.fromEnvironment(reader)
    }
}
