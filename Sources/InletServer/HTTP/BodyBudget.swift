import Synchronization

/// A bound on the bytes of request bodies being received, decompressed and parsed at once.
///
/// The ingest queue bounds parsed rows; this bounds what comes before them. Each request holds
/// one ``BodyReservation`` that grows as its body does. Growing always succeeds while the
/// request is the only holder, so on an idle server every body within the documented limits
/// gets through, even one whose reservation is larger than the budget (a 32 MiB decompressed
/// body holds 64 MiB: itself and its rows). With others holding, growth past the budget fails
/// and the request gets 503: in-flight bodies then hold at most the larger of the budget and
/// one request's reservation.
final class BodyBudget: Sendable {
    let limit: Int
    private let inUse = Mutex(0)

    init(limit: Int) { self.limit = limit }

    /// An empty reservation against this budget.
    func reservation() -> BodyReservation { BodyReservation(budget: self) }

    /// Grows a reservation holding `held` bytes by `bytes`; false when that would pass the limit
    /// while other requests hold part of the budget.
    fileprivate func grow(by bytes: Int, holding held: Int) -> Bool {
        inUse.withLock { inUse in
            guard inUse == held || inUse + bytes <= limit else { return false }
            inUse += bytes
            return true
        }
    }

    fileprivate func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        inUse.withLock { $0 -= bytes }
    }
}

/// One request's share of the ``BodyBudget``, released when the request is done with it.
struct BodyReservation: ~Copyable {
    let budget: BodyBudget
    private(set) var bytes = 0

    fileprivate init(budget: BodyBudget) { self.budget = budget }

    /// Makes the reservation `total` bytes; false (and unchanged) when it cannot grow that far.
    mutating func resize(to total: Int) -> Bool {
        if total <= bytes {
            budget.release(bytes - total)
            bytes = total
            return true
        }
        guard budget.grow(by: total - bytes, holding: bytes) else { return false }
        bytes = total
        return true
    }

    /// Grows the reservation by `additional` bytes; false when it cannot.
    mutating func grow(by additional: Int) -> Bool { resize(to: bytes + additional) }

    deinit { budget.release(bytes) }
}
