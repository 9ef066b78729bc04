import Configuration

/// Knobs of the ingest path: body limits, the queue's bounds, the writers.
/// Every one is an environment variable (README, "Configuration").
public struct IngestConfiguration: Sendable {
    /// Largest body accepted as received (compressed or not), in bytes.
    public var maxBodyBytes = 8 * 1024 * 1024
    /// Largest body after gzip decompression, in bytes.
    public var maxDecompressedBytes = 32 * 1024 * 1024
    /// Largest single message, in bytes.
    public var maxMessageBytes = 32 * 1024
    /// Deepest JSON nesting accepted.
    public var maxDepth = 64
    /// Most messages in one body.
    public var maxMessagesPerBody = 10_000

    /// Bytes of request bodies being received, decompressed and parsed at once (as
    /// ``BodyBudget`` counts them); beyond, 503. A request alone always fits.
    public var maxInFlightBodyBytes = 32 * 1024 * 1024

    /// The queue holds at most this many messages waiting for a writer...
    public var queueMaxMessages = 100_000
    /// ... and at most this many bytes of encoded rows.
    public var queueMaxBytes = 128 * 1024 * 1024
    /// One tenant may hold at most this share of either bound; beyond it, 429.
    public var tenantQueueShare = 0.5

    /// Database writer connections (each one a thread and a transaction at a time).
    public var writers = 2
    /// A writer's transaction takes whole requests up to this many rows.
    public var batchMaxRows = 20_000
    /// How long a writer waits for more requests before committing a small batch...
    public var batchLinger: Duration = .milliseconds(2)
    /// ... one of fewer rows than this. A transaction's fixed cost (BEGIN, a COPY set-up per
    /// table, the upserts, the commit's fsync) is worth a wait only when few rows would share it:
    /// single messages gain 18 rows a commit from it; bodies of 100 at 16 connections lost 7 % of
    /// their rate to it (`make bench` s1: 66–72k against 73–76k msg/s without).
    public var batchLingerBelowRows = 100
    /// A transaction that has not finished after this long is abandoned: its requests are
    /// answered 503 (Segment retries; stored rows are deduplicated) and the connection is reset.
    public var transactionTimeout: Duration = .seconds(10)
    /// A request not taken by a writer within this long is answered 503.
    public var queueTimeout: Duration = .seconds(10)
    /// Graceful shutdown: how long to keep committing queued requests after SIGTERM.
    public var shutdownTimeout: Duration = .seconds(20)

    /// Seconds in `Retry-After` when the queue or the database is the problem.
    public var retryAfterSeconds = 2

    /// How often tenants and tokens are reloaded (a disabled token stops within this + a query).
    public var tenantRefreshInterval: Duration = .seconds(2)

    public init() {}

    /// Reads (environment variable, default):
    /// `INLET_MAX_BODY_BYTES` 8388608, `INLET_MAX_DECOMPRESSED_BYTES` 33554432,
    /// `INLET_MAX_INFLIGHT_BODY_BYTES` 33554432, `INLET_MAX_MESSAGE_BYTES` 32768, `INLET_MAX_JSON_DEPTH` 64, `INLET_MAX_MESSAGES_PER_BODY` 10000,
    /// `INLET_QUEUE_MAX_MESSAGES` 100000, `INLET_QUEUE_MAX_BYTES` 134217728,
    /// `INLET_TENANT_QUEUE_SHARE` 0.5, `INLET_WRITERS` 2, `INLET_BATCH_MAX_ROWS` 20000,
    /// `INLET_BATCH_LINGER_MS` 2, `INLET_BATCH_LINGER_BELOW_ROWS` 100, `INLET_TRANSACTION_TIMEOUT_MS` 10000, `INLET_QUEUE_TIMEOUT_MS` 10000,
    /// `INLET_SHUTDOWN_TIMEOUT_MS` 20000, `INLET_RETRY_AFTER_SECONDS` 2, `INLET_TENANT_REFRESH_MS` 2000.
    public init(reader: ConfigReader) {
        let d = IngestConfiguration()
        maxBodyBytes = reader.int(forKey: "inlet.max.body.bytes", default: d.maxBodyBytes)
        maxDecompressedBytes = reader.int(forKey: "inlet.max.decompressed.bytes", default: d.maxDecompressedBytes)
        maxMessageBytes = reader.int(forKey: "inlet.max.message.bytes", default: d.maxMessageBytes)
        maxDepth = reader.int(forKey: "inlet.max.json.depth", default: d.maxDepth)
        maxMessagesPerBody = reader.int(forKey: "inlet.max.messages.per.body", default: d.maxMessagesPerBody)
        maxInFlightBodyBytes = reader.int(forKey: "inlet.max.inflight.body.bytes", default: d.maxInFlightBodyBytes)
        queueMaxMessages = reader.int(forKey: "inlet.queue.max.messages", default: d.queueMaxMessages)
        queueMaxBytes = reader.int(forKey: "inlet.queue.max.bytes", default: d.queueMaxBytes)
        tenantQueueShare = reader.double(forKey: "inlet.tenant.queue.share", default: d.tenantQueueShare)
        writers = max(1, reader.int(forKey: "inlet.writers", default: d.writers))
        batchMaxRows = reader.int(forKey: "inlet.batch.max.rows", default: d.batchMaxRows)
        batchLinger = .milliseconds(reader.int(forKey: "inlet.batch.linger.ms", default: 2))
        batchLingerBelowRows = reader.int(forKey: "inlet.batch.linger.below.rows", default: d.batchLingerBelowRows)
        transactionTimeout = .milliseconds(reader.int(forKey: "inlet.transaction.timeout.ms", default: 10_000))
        queueTimeout = .milliseconds(reader.int(forKey: "inlet.queue.timeout.ms", default: 10_000))
        shutdownTimeout = .milliseconds(reader.int(forKey: "inlet.shutdown.timeout.ms", default: 20_000))
        retryAfterSeconds = reader.int(forKey: "inlet.retry.after.seconds", default: d.retryAfterSeconds)
        tenantRefreshInterval = .milliseconds(reader.int(forKey: "inlet.tenant.refresh.ms", default: 2_000))
    }
}
