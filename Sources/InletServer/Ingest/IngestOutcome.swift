import InletMessages
import Synchronization

/// What became of one request's messages.
public enum IngestOutcome: Sendable, Equatable {
    /// Committed: `accepted` rows stored now, `duplicates` already stored before.
    case committed(accepted: Int, duplicates: Int, rejected: [RejectedMessage])
    /// The queue is full: 503 with Retry-After.
    case queueFull
    /// This tenant holds its whole share of the queue: 429 with Retry-After.
    case tenantOverShare
    /// The database cannot take writes now (down, frozen, or the transaction timed out): 503.
    case databaseUnavailable
    /// The database answers but fails for reasons that are not one message's (disk full,
    /// privileges, timeouts, read-only, a month's partitions that cannot be created now): 503.
    case databaseFailing
    /// The server is shutting down: 503, another instance will take the retry.
    case shuttingDown
}

/// A request waiting in the queue or being written, and the task waiting for its answer.
final class PendingRequest: Sendable {
    let tenantID: Int64
    let batch: ParsedBatch
    /// Messages this request holds in the queue (rows, quarantined messages and deletes).
    let messageCount: Int
    /// Bytes of encoded rows it holds.
    let byteCount: Int
    let enqueuedAt: ContinuousClock.Instant
    /// Rows whose message this process took in lately (``RecentMessages``).
    let likelyStored: [Int]
    /// A hash of each row's message key (``RepeatedMessages/key(of:in:tenant:)``).
    let messageKeys: [Int]
    private let continuation: Mutex<CheckedContinuation<IngestOutcome, Never>?>

    init(
        tenantID: Int64, batch: ParsedBatch, messageKeys: [Int] = [], likelyStored: [Int] = [],
        continuation: CheckedContinuation<IngestOutcome, Never>
    ) {
        self.tenantID = tenantID
        self.batch = batch
        self.messageKeys = messageKeys
        self.likelyStored = likelyStored
        self.messageCount = batch.rows.count + batch.rejects.count + batch.deletes.count
        self.byteCount = batch.encodedByteCount + batch.rejects.reduce(0) { $0 + $1.raw.count }
        self.enqueuedAt = .now
        self.continuation = Mutex(continuation)
    }

    /// Answers the waiting request; only the first call has an effect (a writer and the
    /// watchdog may both try). Returns whether this call answered.
    @discardableResult
    func complete(_ outcome: IngestOutcome) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(returning: outcome)
        return true
    }
}
