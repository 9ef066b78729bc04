import CoreMetrics
import Dispatch
import Foundation
import InletMessages
import Logging
import PostgresClient
import ServiceLifecycle
import Synchronization

/// The database writers: a few threads, each owning one connection, draining the ingest queue
/// in group commits; and the watchdog that answers for them when the database stops answering.
///
/// A swift-service-lifecycle `Service`: on graceful shutdown (after the HTTP server stopped
/// taking requests) it refuses new work, commits what is queued within `shutdownTimeout`,
/// answers anything left with 503, and returns.
public final class WriterPool: Service, Sendable {
    private let queue: IngestQueue
    private let databaseURL: String
    private let configuration: IngestConfiguration
    private let metrics: IngestMetrics
    private let logger: Logger

    /// A transaction in progress, so the watchdog can time it out.
    private struct InFlight {
        let requests: [PendingRequest]
        /// When its current transaction began (a batch may run several: bisection).
        var started: ContinuousClock.Instant
        let socket: Int32
        var abandoned = false
    }

    private let inFlight = Mutex<[Int: InFlight]>([:])
    private let stopping = Atomic<Bool>(false)
    private let runningWriters = Atomic<Int>(0)
    /// Left by each writer thread as it ends: what shutdown joins.
    private let writersExited = DispatchGroup()
    /// The last write failure logged, so that a lasting fault is logged once, not per batch.
    private let lastFault = Mutex<String?>(nil)

    init(queue: IngestQueue, databaseURL: String, configuration: IngestConfiguration, metrics: IngestMetrics, logger: Logger) {
        self.queue = queue
        self.databaseURL = databaseURL
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        for index in 0..<configuration.writers {
            runningWriters.add(1, ordering: .relaxed)
            writersExited.enter()
            let thread = Thread { [self] in
                self.writerLoop(index)
                self.runningWriters.subtract(1, ordering: .relaxed)
                self.writersExited.leave()
            }
            thread.name = "inlet-writer-\(index)"
            thread.start()
        }

        // Until shutdown: watch over queued requests and transactions.
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                watch()
                try? await Task.sleep(for: .milliseconds(100))
            }
        } onGracefulShutdown: {}

        // Drain: no new requests; commit what is queued, for at most shutdownTimeout.
        queue.close()
        let deadline = ContinuousClock.now + configuration.shutdownTimeout
        while !queue.isEmpty && ContinuousClock.now < deadline {
            watch()
            try? await Task.sleep(for: .milliseconds(20))
        }
        if !queue.isEmpty {
            logger.warning("shutdown timeout: answering the requests still queued with 503")
            queue.failAllWaiting(with: .shuttingDown)
            abandonAllInFlight(with: .shuttingDown)
        }
        stopping.store(true, ordering: .relaxed)
        queue.wakeWriters()
        // Join the writer threads: none may still be inside libpq once this returns (the process
        // exits next). Each notices `stopping` within its 200 ms wait; one still blocked after
        // that on a database that does not answer (in a transaction or a probe, both registered
        // in `inFlight`) has its socket shut down, so its call fails.
        let joinDeadline = ContinuousClock.now + .seconds(2)
        while runningWriters.load(ordering: .relaxed) > 0 && ContinuousClock.now < joinDeadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if runningWriters.load(ordering: .relaxed) > 0 { abandonAllInFlight(with: .shuttingDown) }
        await withCheckedContinuation { (joined: CheckedContinuation<Void, Never>) in
            writersExited.notify(queue: .global()) { joined.resume() }
        }
    }

    // MARK: - Watchdog

    /// Answers requests that waited too long, and abandons transactions the database is not
    /// finishing (a frozen or unreachable server): their requests get 503 now, the connection's
    /// socket is shut down so the writer's blocked call fails and it reconnects.
    private func watch() {
        queue.expireWaiting(olderThan: configuration.queueTimeout)
        let now = ContinuousClock.now
        let stuck: [InFlight] = inFlight.withLock { transactions in
            var stuck: [InFlight] = []
            for (index, transaction) in transactions
            where !transaction.abandoned && now - transaction.started > configuration.transactionTimeout {
                transactions[index]?.abandoned = true
                stuck.append(transaction)
                _ = shutdown(transaction.socket, Int32(SHUT_RDWR))
            }
            return stuck
        }
        guard !stuck.isEmpty else { return }
        logger.error("a database transaction did not finish in time; answering its requests 503 and reconnecting")
        metrics.databaseErrors.increment()
        queue.setDatabaseAvailable(false)
        for transaction in stuck {
            for request in transaction.requests { queue.finish(request, with: .databaseUnavailable) }
        }
    }

    /// Answers every request being written with `outcome`, and shuts down the writers' sockets
    /// so that their blocked calls fail (end of a shutdown that ran out of time).
    private func abandonAllInFlight(with outcome: IngestOutcome) {
        let all = inFlight.withLock { transactions in
            for transaction in transactions.values { _ = shutdown(transaction.socket, Int32(SHUT_RDWR)) }
            return transactions.values.flatMap(\.requests)
        }
        for request in all { queue.finish(request, with: outcome) }
    }

    // MARK: - Writer threads

    private func writerLoop(_ index: Int) {
        var writer: BatchWriter?
        while true {
            if writer == nil {
                if stopping.load(ordering: .relaxed) { return }
                do {
                    writer = try BatchWriter(url: databaseURL, logger: logger)
                    let metrics = metrics
                    writer?.committed = { metrics.commitSeconds.record($0) }
                    writer?.transactionRestaged = { metrics.transactionsRestaged.increment() }
                    writer?.transactionBegins = { [self] in inFlight.withLock { $0[index]?.started = .now } }
                    if !queue.isDatabaseAvailable { logger.info("database reachable again") }
                    queue.setDatabaseAvailable(true)
                } catch {
                    if queue.isDatabaseAvailable {
                        logger.error("database writer cannot connect", metadata: ["error": "\(logDescription(error))"])
                    }
                    metrics.databaseErrors.increment()
                    queue.setDatabaseAvailable(false)
                    Thread.sleep(forTimeInterval: 0.5)
                    continue
                }
            }
            guard let current = writer else { continue }

            guard queue.waitForWork(timeout: .milliseconds(200)) else {
                if stopping.load(ordering: .relaxed) { return }
                if !queue.isDatabaseAvailable {
                    // Requests are being refused, so none will test this connection: probe it,
                    // watched like a transaction (a frozen server would hold it forever).
                    inFlight.withLock {
                        $0[index] = InFlight(requests: [], started: .now, socket: current.connection.socketDescriptor)
                    }
                    let alive = (try? current.connection.query("SELECT 1")) != nil
                    _ = inFlight.withLock { $0.removeValue(forKey: index) }
                    if alive {
                        queue.setDatabaseAvailable(true)
                    } else {
                        writer = nil
                    }
                }
                continue
            }
            // Group commit: let a small batch grow for a moment (IngestConfiguration.batchLinger).
            if configuration.batchLinger > .zero && queue.waitingRows < configuration.batchLingerBelowRows {
                Thread.sleep(forTimeInterval: configuration.batchLinger.timeInterval)
            }
            let othersWriting = inFlight.withLock { $0.filter { $0.key != index }.values.flatMap(\.requests) }
            let requests = queue.take(maxRows: configuration.batchMaxRows, holdingBack: Self.repeatsAMessage(of: othersWriting))
            guard !requests.isEmpty else {
                // Only resends wait, each for another writer's transaction that holds its
                // original (IngestQueue.take): look again shortly.
                if !othersWriting.isEmpty { Thread.sleep(forTimeInterval: 0.001) }
                continue
            }
            if !write(requests, with: current, writerIndex: index) { writer = nil }
        }
    }

    /// Whether a request repeats a message of `writing` (another writer's transaction). The keys
    /// of `writing` are gathered only if a request with likely redeliveries waits.
    private static func repeatsAMessage(of writing: [PendingRequest]) -> ((PendingRequest) -> Bool)? {
        guard !writing.isEmpty else { return nil }
        var keys: Set<Int>?
        return { request in
            if keys == nil { keys = Set(writing.lazy.flatMap(\.messageKeys)) }
            return request.likelyStored.contains { $0 < request.messageKeys.count && keys?.contains(request.messageKeys[$0]) == true }
        }
    }

    /// Writes and answers `requests`; false when the connection failed and must be replaced.
    private func write(_ requests: [PendingRequest], with writer: BatchWriter, writerIndex: Int) -> Bool {
        let started = ContinuousClock.now
        inFlight.withLock {
            $0[writerIndex] = InFlight(requests: requests, started: started, socket: writer.connection.socketDescriptor)
        }
        defer { _ = inFlight.withLock { $0.removeValue(forKey: writerIndex) } }
        do {
            let results = try writer.write(
                requests.map { WriteRequest(tenantID: $0.tenantID, batch: $0.batch, likelyStored: $0.likelyStored) })
            let elapsed = ContinuousClock.now - started
            metrics.batchSeconds.recordNanoseconds(
                Int64(elapsed.components.seconds) * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            metrics.batchRows.record(requests.reduce(0) { $0 + $1.batch.rows.count })
            for (request, result) in zip(requests, results) {
                if let refusal = result.refusal {
                    queue.finish(request, with: refusal)
                    continue
                }
                countMetrics(result)
                metrics.countAccepted(.delete, request.batch.deletes.count)
                queue.finish(
                    request, with: .committed(accepted: result.accepted, duplicates: result.duplicates, rejected: result.rejected))
            }
            lastFault.withLock { $0 = nil }
            return true
        } catch {
            // Nothing of the batch is acknowledged; Segment retries, and rows that did commit
            // (halves of a bisection) are found stored then.
            metrics.databaseErrors.increment()
            let postgres = error as? PostgresError
            let fault = postgres.map(DatabaseFault.init) ?? .systemic
            let outcome: IngestOutcome = fault == .connectionLost ? .databaseUnavailable : .databaseFailing
            for request in requests { queue.finish(request, with: outcome) }
            // A fault that goes on is logged when it starts and when it changes, not per batch.
            let description = logDescription(error)
            let isNew = lastFault.withLock { last in
                defer { last = description }
                return last != description
            }
            if isNew {
                logger.error(
                    "database write failed; answering 503, nothing acknowledged or quarantined",
                    metadata: ["error": "\(description)", "fault": "\(fault)"])
            }
            if fault != .connectionLost, writer.connection.isHealthy {
                return true
            }
            queue.setDatabaseAvailable(false)
            return false
        }
    }

    private func countMetrics(_ result: RequestResult) {
        for table in EventTable.allCases {
            metrics.countAccepted(table.messageType, result.acceptedByTable[table.rawValue])
            metrics.countDuplicate(table.messageType, result.duplicatesByTable[table.rawValue])
        }
        for rejected in result.rejected { metrics.countRejected(rejected.type) }
    }
}

extension Duration {
    /// The duration in seconds, for Foundation's sleeping calls.
    var timeInterval: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
