import Synchronization

/// The keys of the messages this process admitted lately (``IngestQueue``): a request that
/// repeats one (a client that timed out and retried, a Replay over stored data) then has its rows
/// looked up by key before the COPY, which skips those found, while the fresh rows of the same
/// transaction keep the plain COPY.
///
/// Without it, a redelivered row was found only by the unique violation it raised: the whole
/// transaction was aborted and redone through staging, every other request in it included
/// (`make bench` s3: 5 % of requests resent cost 8 % of the rate, one second at a third).
///
/// A hint, never the truth: a key found here may be stale (a write that failed, a hash that
/// collides) and costs only a look-up; a resend not found here (sent to another instance, or
/// forgotten) still raises the unique violation, and the transaction is redone with every row
/// staged (`ON CONFLICT DO NOTHING`). So a direct-mapped table of 64-bit hashes is enough: a
/// slot per hash, the newest key wins it.
/// 2^21 slots, 16 MB: at 30k messages/s a key is still there after 10 s with odds of 7 in 8,
/// after 30 s of 2 in 3 (each newer key takes its slot with odds 1 in 2^21); a quiet instance
/// remembers for hours.
final class RecentMessages: Sendable {
    static let defaultSlots = 1 << 21

    private let slots: Mutex<[UInt64]>
    private let mask: Int

    init(slots count: Int = RecentMessages.defaultSlots) {
        precondition(count > 0 && count & (count - 1) == 0, "a power of two")
        slots = Mutex([UInt64](repeating: 0, count: count))
        mask = count - 1
    }

    /// Whether each key was remembered.
    func contains(_ keys: [Int]) -> [Bool] {
        slots.withLock { slots in keys.map { slots[$0 & mask] == Self.stored($0) } }
    }

    func remember(_ keys: [Int]) {
        slots.withLock { slots in
            for key in keys { slots[key & mask] = Self.stored(key) }
        }
    }

    /// A key as its slot holds it: 0 means empty, so a hash of 0 is stored as 1.
    private static func stored(_ key: Int) -> UInt64 { key == 0 ? 1 : UInt64(bitPattern: Int64(key)) }
}
