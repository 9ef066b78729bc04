import CoreMetrics
import Foundation
import InletMessages
import Prometheus

// Prometheus declares its own Counter and Gauge, and Foundation a Timer; inside this module the
// names mean swift-metrics' types, which the Prometheus factory backs.
typealias Counter = CoreMetrics.Counter
typealias Gauge = CoreMetrics.Gauge
typealias Timer = CoreMetrics.Timer

/// Inlet's metrics, registered in the application's own Prometheus registry (not the global
/// MetricsSystem, so tests can build several applications in one process).
public struct IngestMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let accepted: [Counter]  // by MessageType
    private let duplicates: [Counter]
    private let rejected: [Counter]
    private let rejectedUnknown: Counter
    let tooManyRequests: Counter
    let unavailable: Counter
    let databaseErrors: Counter
    let queuedMessages: Gauge
    let queuedBytes: Gauge
    let batchRows: Recorder
    let batchSeconds: Timer

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets["inlet_copy_batch_rows"] = [1, 10, 100, 500, 1_000, 2_000, 5_000, 10_000, 20_000]
        factory.durationHistogramBuckets["inlet_copy_batch_seconds"] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        func perType(_ label: String) -> [Counter] {
            MessageType.allCases.map { Counter(label: label, dimensions: [("type", $0.rawValue)], factory: factory) }
        }
        accepted = perType("inlet_messages_accepted_total")
        duplicates = perType("inlet_messages_duplicate_total")
        rejected = perType("inlet_messages_rejected_total")
        rejectedUnknown = Counter(label: "inlet_messages_rejected_total", dimensions: [("type", "unknown")], factory: factory)
        tooManyRequests = Counter(label: "inlet_responses_429_total", factory: factory)
        unavailable = Counter(label: "inlet_responses_503_total", factory: factory)
        databaseErrors = Counter(label: "inlet_database_errors_total", factory: factory)
        queuedMessages = Gauge(label: "inlet_queue_messages", factory: factory)
        queuedBytes = Gauge(label: "inlet_queue_bytes", factory: factory)
        batchRows = Recorder(label: "inlet_copy_batch_rows", factory: factory)
        batchSeconds = Timer(label: "inlet_copy_batch_seconds", factory: factory)
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

    /// The Prometheus text exposition.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}

extension MessageType {
    var index: Int { MessageType.allCases.firstIndex(of: self) ?? 0 }
}
