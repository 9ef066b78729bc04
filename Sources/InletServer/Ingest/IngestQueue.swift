import CoreMetrics
import Dispatch
import Foundation
import InletMessages
import Synchronization

/// The bounded in-memory queue between request handlers and database writers.
///
/// Bounded by messages and by bytes, counted from admission until the request is answered (a
/// request's rows stay in memory while a writer commits them). When full, a request is refused
/// at once with 503, never made to wait; one tenant may hold at most `tenantShare` of either
/// bound, beyond which its requests get 429 while others still get in. A request is always
/// admitted into an empty queue, so a body larger than the bounds still makes progress.
final class IngestQueue: Sendable {
    struct Limits: Sendable {
        var maxMessages: Int
        var maxBytes: Int
        var tenantShare: Double
    }

    private struct State {
        var waiting: [PendingRequest] = []
        var messages = 0
        var bytes = 0
        var perTenant: [Int64: (messages: Int, bytes: Int)] = [:]
        var accepting = true
        var databaseAvailable = true
    }

    let limits: Limits
    private let state = Mutex(State())
    /// Writers wait on it while no request waits; signalled once per admitted request.
    ///
    /// A condition over the queue's state, not a semaphore counting admissions: a writer takes
    /// every waiting request at once but consumed one count, so the counts piled up (250,000
    /// after a minute of single messages) and the writers woke to empty takes, 2 ms each, long
    /// after the load ended; a graceful shutdown waited for that backlog to drain.
    private let work = NSCondition()
    private let metrics: IngestMetrics
    /// The messages admitted lately: a request repeating one is likely a redelivery.
    private let recent: RecentMessages

    init(limits: Limits, metrics: IngestMetrics, recent: RecentMessages = RecentMessages()) {
        self.limits = limits
        self.metrics = metrics
        self.recent = recent
    }

    // MARK: - Handler side

    /// Queues `batch` for `tenantID` and waits until it is committed or refused.
    ///
    /// Its messages are checked against those admitted lately, and remembered once it is
    /// admitted (not when written: a resend arriving while its original waits or is being
    /// committed is then known too, and waits for that commit rather than failing its COPY).
    /// A request refused is not remembered: its retry is not a redelivery.
    func submit(_ batch: ParsedBatch, tenantID: Int64) async -> IngestOutcome {
        let keys = batch.rows.indices.map { RepeatedMessages.key(of: $0, in: batch, tenant: tenantID) }
        var likelyStored = zip(keys.indices, recent.contains(keys)).compactMap { $1 ? $0 : nil }
        // Mostly seen: a resend of a whole request, some of whose keys newer ones have pushed
        // out of `recent` (direct-mapped: a newer key takes the slot). Such a row, not looked
        // up, failed the plain COPY and its transaction was redone staged: 93 transactions in
        // 20 s at 5 % resends, after resends no longer raced their originals; 0 since every row
        // of such a request is looked up (those not found are staged, which is safe).
        if likelyStored.count * 2 >= keys.count && likelyStored.count < keys.count { likelyStored = Array(keys.indices) }
        return await withCheckedContinuation { continuation in
            let request = PendingRequest(
                tenantID: tenantID, batch: batch, messageKeys: keys, likelyStored: likelyStored, continuation: continuation)
            if let refusal = admit(request) {
                request.complete(refusal)
            } else {
                recent.remember(keys)
                work.lock()
                work.signal()
                work.unlock()
            }
        }
    }

    private func admit(_ request: PendingRequest) -> IngestOutcome? {
        let refusal: IngestOutcome? = state.withLock { state in
            guard state.accepting else { return .shuttingDown }
            guard state.databaseAvailable else { return .databaseUnavailable }
            if state.messages > 0 {
                if state.messages + request.messageCount > limits.maxMessages
                    || state.bytes + request.byteCount > limits.maxBytes
                {
                    return .queueFull
                }
                let tenant = state.perTenant[request.tenantID] ?? (0, 0)
                if tenant.messages > 0,
                    Double(tenant.messages + request.messageCount) > limits.tenantShare * Double(limits.maxMessages)
                        || Double(tenant.bytes + request.byteCount) > limits.tenantShare * Double(limits.maxBytes)
                {
                    return .tenantOverShare
                }
            }
            state.waiting.append(request)
            state.messages += request.messageCount
            state.bytes += request.byteCount
            state.perTenant[request.tenantID, default: (0, 0)].messages += request.messageCount
            state.perTenant[request.tenantID, default: (0, 0)].bytes += request.byteCount
            return nil
        }
        // Refusals are counted with the response they become (HTTPMetricsMiddleware).
        publishDepth()
        return refusal
    }

    // MARK: - Writer side

    /// Waits up to `timeout` for a request to wait for a writer; false when none does by then,
    /// or when woken for another reason (``wakeWriters()``).
    func waitForWork(timeout: Duration) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout.timeInterval)
        work.lock()
        defer { work.unlock() }
        // The handler admits (under `state`) before it takes `work` to signal: a request admitted
        // after this check finds the writer waiting, and wakes it.
        if hasWaiting { return true }
        _ = work.wait(until: deadline)
        return hasWaiting
    }

    private var hasWaiting: Bool { state.withLock { !$0.waiting.isEmpty } }

    /// Rows waiting for a writer.
    var waitingRows: Int {
        state.withLock { $0.waiting.reduce(0) { $0 + $1.batch.rows.count } }
    }

    /// Takes whole requests, oldest first, up to `maxRows` rows (at least one request), and
    /// records how long each waited for a writer (`inlet_queue_wait_seconds`).
    ///
    /// Requests with likely redeliveries for which `holdBack` is true (their originals are in
    /// another writer's running transaction, not yet committed) stay queued, in order, for a
    /// later take. Written now, a redelivered row would be looked up, not found, staged and
    /// inserted first, and the original's plain COPY would then fail on it and redo its whole
    /// transaction staged. Taken after that transaction, it is found stored.
    func take(maxRows: Int, holdingBack holdBack: ((PendingRequest) -> Bool)? = nil) -> [PendingRequest] {
        let taken: [PendingRequest] = state.withLock { state in
            var taken: [PendingRequest] = []
            var kept: [PendingRequest] = []
            var rows = 0
            var full = false
            for request in state.waiting {
                let heldBack = !request.likelyStored.isEmpty && holdBack?(request) == true
                full = full || !heldBack && !taken.isEmpty && rows + request.batch.rows.count > maxRows
                if heldBack || full {
                    kept.append(request)
                } else {
                    rows += request.batch.rows.count
                    taken.append(request)
                }
            }
            state.waiting = kept
            return taken
        }
        let now = ContinuousClock.now
        for request in taken { metrics.recordQueueWait(now - request.enqueuedAt) }
        return taken
    }

    /// Answers `request` and releases what it held in the queue.
    func finish(_ request: PendingRequest, with outcome: IngestOutcome) {
        guard request.complete(outcome) else { return }
        release(request)
    }

    private func release(_ request: PendingRequest) {
        state.withLock { state in
            state.messages -= request.messageCount
            state.bytes -= request.byteCount
            let remaining = (state.perTenant[request.tenantID] ?? (0, 0))
            let next = (remaining.messages - request.messageCount, remaining.bytes - request.byteCount)
            state.perTenant[request.tenantID] = next.0 <= 0 && next.1 <= 0 ? nil : next
        }
        publishDepth()
    }

    // MARK: - Database state and shutdown

    var isDatabaseAvailable: Bool { state.withLock { $0.databaseAvailable } }

    /// Records whether writes can reach the database. While they cannot, new requests are
    /// refused at once with 503 and waiting ones are answered 503 (Segment retries them).
    func setDatabaseAvailable(_ available: Bool) {
        let dropped: [PendingRequest] = state.withLock { state in
            state.databaseAvailable = available
            guard !available else { return [] }
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for request in dropped { finish(request, with: .databaseUnavailable) }
    }

    /// Refuses new requests from now on (shutdown); queued ones are still written.
    func close() {
        state.withLock { $0.accepting = false }
    }

    var isEmpty: Bool { state.withLock { $0.messages == 0 && $0.waiting.isEmpty } }

    /// Answers every waiting request that has waited longer than `limit` with 503.
    func expireWaiting(olderThan limit: Duration) {
        let now = ContinuousClock.now
        let expired: [PendingRequest] = state.withLock { state in
            let old = state.waiting.filter { now - $0.enqueuedAt > limit }
            if !old.isEmpty { state.waiting.removeAll { now - $0.enqueuedAt > limit } }
            return old
        }
        for request in expired { finish(request, with: .databaseUnavailable) }
    }

    /// Answers every waiting request with `outcome` (end of a shutdown that ran out of time).
    func failAllWaiting(with outcome: IngestOutcome) {
        let all: [PendingRequest] = state.withLock { state in
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for request in all { finish(request, with: outcome) }
    }

    /// Wakes every writer (at shutdown, so they notice promptly).
    func wakeWriters() {
        work.lock()
        work.broadcast()
        work.unlock()
    }

    private func publishDepth() {
        let (messages, bytes) = state.withLock { ($0.messages, $0.bytes) }
        metrics.queuedMessages.record(messages)
        metrics.queuedBytes.record(bytes)
    }
}
