import Synchronization

/// A bound on the bytes of request bodies being received, decompressed and parsed at once.
///
/// The ingest queue bounds parsed rows; this bounds what comes before them. A reservation always
/// succeeds while nothing is held, so one body larger than the budget still gets through.
final class BodyBudget: Sendable {
    let limit: Int
    private let inUse = Mutex(0)

    init(limit: Int) { self.limit = limit }

    /// Takes `bytes` from the budget; false when that would pass the limit.
    func reserve(_ bytes: Int) -> Bool {
        inUse.withLock { inUse in
            guard inUse == 0 || inUse + bytes <= limit else { return false }
            inUse += bytes
            return true
        }
    }

    func release(_ bytes: Int) {
        inUse.withLock { $0 -= bytes }
    }
}
