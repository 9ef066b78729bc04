import CoreMetrics
import Foundation
import HTTPTypes
import InletMessages
import Prometheus
import Synchronization

// Prometheus declares its own Counter and Gauge, and Foundation a Timer; inside this module the
// names mean swift-metrics' types, which the Prometheus factory backs.
typealias Counter = CoreMetrics.Counter
typealias Gauge = CoreMetrics.Gauge
typealias Timer = CoreMetrics.Timer

/// Inlet's metrics, registered in the application's own Prometheus registry (not the global
/// MetricsSystem, so tests can build several applications in one process). README, "Metrics",
/// lists every one.
public struct IngestMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let accepted: [Counter]  // by MessageType
    private let duplicates: [Counter]
    private let rejected: [Counter]
    private let rejectedUnknown: Counter
    private let tooManyRequests: Counter
    private let unavailable: [Counter]  // by UnavailableReason
    let databaseErrors: Counter
    let queuedMessages: Gauge
    let queuedBytes: Gauge
    let batchRows: Recorder
    let batchSeconds: Timer
    /// From admission into the queue until a writer takes the request.
    let queueWait: Timer
    /// One writer transaction, from its first statement to its commit (recorded by the writers).
    let commitSeconds: Timer
    /// Transactions redone with every row staged because a row was stored already and
    /// ``RecentMessages`` did not expect it (a resend first sent to another instance, or long ago).
    let transactionsRestaged: Counter
    /// 1 while `/readyz` answers 200, else 0 (set when /metrics is read).
    let ready: Gauge
    private let http: HTTPMetricsCache

    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2_500), .seconds(5),
        .seconds(10),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets["inlet_copy_batch_rows"] = [1, 10, 100, 500, 1_000, 2_000, 5_000, 10_000, 20_000]
        factory.durationHistogramBuckets["inlet_copy_batch_seconds"] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        factory.durationHistogramBuckets["inlet_http_request_duration_seconds"] = Self.latencyBuckets
        factory.durationHistogramBuckets["inlet_commit_duration_seconds"] = Self.latencyBuckets
        // A request normally waits about the writers' linger (2 ms); seconds mean the database
        // is slow or the queue is deep.
        factory.durationHistogramBuckets["inlet_queue_wait_seconds"] =
            [.microseconds(500)] + Self.latencyBuckets
        self.factory = factory
        func perType(_ label: String) -> [Counter] {
            MessageType.allCases.map { Counter(label: label, dimensions: [("type", $0.rawValue)], factory: factory) }
        }
        accepted = perType("inlet_messages_accepted_total")
        duplicates = perType("inlet_messages_duplicate_total")
        rejected = perType("inlet_messages_rejected_total")
        rejectedUnknown = Counter(label: "inlet_messages_rejected_total", dimensions: [("type", "unknown")], factory: factory)
        tooManyRequests = Counter(label: "inlet_responses_429_total", factory: factory)
        // Created up front, so that every reason is exposed (at 0) before it first happens and
        // rate() over it works from the start.
        unavailable = UnavailableReason.allCases.map {
            Counter(label: "inlet_responses_503_total", dimensions: [("reason", $0.rawValue)], factory: factory)
        }
        databaseErrors = Counter(label: "inlet_database_errors_total", factory: factory)
        queuedMessages = Gauge(label: "inlet_queue_messages", factory: factory)
        queuedBytes = Gauge(label: "inlet_queue_bytes", factory: factory)
        batchRows = Recorder(label: "inlet_copy_batch_rows", factory: factory)
        batchSeconds = Timer(label: "inlet_copy_batch_seconds", factory: factory)
        queueWait = Timer(label: "inlet_queue_wait_seconds", factory: factory)
        commitSeconds = Timer(label: "inlet_commit_duration_seconds", factory: factory)
        transactionsRestaged = Counter(label: "inlet_transactions_restaged_total", factory: factory)
        ready = Gauge(label: "inlet_ready", factory: factory)
        http = HTTPMetricsCache(factory: factory)
    }

    func countAccepted(_ type: MessageType, _ count: Int = 1) {
        if count > 0 { accepted[type.index].increment(by: count) }
    }
    func countDuplicate(_ type: MessageType, _ count: Int = 1) {
        if count > 0 { duplicates[type.index].increment(by: count) }
    }
    /// Rejected messages whose type is not known are counted under "unknown".
    func countRejected(_ type: MessageType?) {
        if let type { rejected[type.index].increment() } else { rejectedUnknown.increment() }
    }
    /// One 429 answered to an ingest request.
    func countTooManyRequests() { tooManyRequests.increment() }
    /// One 503 answered to an ingest request.
    func countUnavailable(_ reason: UnavailableReason) {
        unavailable[UnavailableReason.allCases.firstIndex(of: reason) ?? 0].increment()
    }

    /// One HTTP response: `inlet_http_responses_total{route,status}` and its latency in
    /// `inlet_http_request_duration_seconds{route}`. `route` is the matched route pattern, so the
    /// label values are bounded by the routes Inlet has, whatever paths clients send.
    func recordResponse(route: String, status: HTTPResponse.Status, duration: Duration) {
        http.responses(route: route, status: status.code).increment()
        http.latency(route: route).record(duration)
    }

    /// How long a request waited in the queue before a writer took it.
    func recordQueueWait(_ duration: Duration) {
        queueWait.record(duration)
    }

    /// `inlet_tls_certificate_expiry_timestamp_seconds`: the served certificate's notAfter.
    /// Made only by a server that speaks TLS itself, so that behind a TLS-terminating balancer
    /// no expiry alert fires on a 0.
    func makeTLSCertificateExpiry() -> Gauge {
        Gauge(label: "inlet_tls_certificate_expiry_timestamp_seconds", factory: factory)
    }

    /// The Prometheus text exposition.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}

/// The per-route metrics, made on first use and kept: the registry would return the same ones,
/// but only after building their labels and taking its lock.
private final class HTTPMetricsCache: Sendable {
    private struct Key: Hashable {
        let route: String
        let status: Int
    }
    private let factory: PrometheusMetricsFactory
    private let counters = Mutex<[Key: Counter]>([:])
    private let timers = Mutex<[String: Timer]>([:])

    init(factory: PrometheusMetricsFactory) { self.factory = factory }

    func responses(route: String, status: Int) -> Counter {
        counters.withLock { counters in
            let key = Key(route: route, status: status)
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "inlet_http_responses_total", dimensions: [("route", route), ("status", String(status))],
                factory: factory)
            counters[key] = counter
            return counter
        }
    }

    func latency(route: String) -> Timer {
        timers.withLock { timers in
            if let timer = timers[route] { return timer }
            let timer = Timer(label: "inlet_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            timers[route] = timer
            return timer
        }
    }
}

extension Timer {
    func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension MessageType {
    var index: Int { MessageType.allCases.firstIndex(of: self) ?? 0 }
}
