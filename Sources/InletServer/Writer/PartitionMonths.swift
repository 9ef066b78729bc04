import InletMessages
import PostgresClient

/// The months whose partitions a writer knows to exist, and the creation of missing ones.
///
/// Each missing month is created in its own short transaction before the data transaction, by
/// `inlet.ensure_month_partitions` (a standalone table, then ATTACH PARTITION: neither BI readers
/// nor other writers wait on it, see V0007), under a `lock_timeout`: when the month cannot be had
/// now (another session holds a conflicting lock on the parent), only the requests with rows in
/// that month are refused with 503, and the rest of the batch is written.
struct PartitionMonths {
    /// Months (year × 12 + month − 1) whose partitions are known to exist.
    private var known = Set<Int>()
    /// How long creating a month may wait for its locks.
    static let lockTimeout = "2s"

    static func month(of timestamp: Timestamp) -> Int {
        let c = timestamp.components
        return c.year * 12 + c.month - 1
    }

    /// Forgets what is known (a partition may have been dropped since it was cached).
    mutating func forget() { known.removeAll() }

    /// Makes sure every month of `rows` exists; returns the months that could not be created.
    /// Throws only when the connection failed.
    mutating func ensure(_ rows: [RowRef], in batch: WriteBatch, on connection: Connection) throws -> Set<Int> {
        var months = Set<Int>()
        for ref in rows { months.insert(Self.month(of: batch.row(ref).timestamp)) }
        var failed = Set<Int>()
        for month in months.subtracting(known).sorted() {
            let first = Timestamp(.init(year: month / 12, month: month % 12 + 1, day: 1))
            do {
                try connection.transaction {
                    try connection.execute("SET LOCAL lock_timeout = '\(Self.lockTimeout)'")
                    try connection.query("SELECT inlet.ensure_month_partitions($1)", first)
                }
                known.insert(month)
            } catch let error as PostgresError where !error.isConnectionFailure {
                failed.insert(month)
            }
        }
        return failed
    }
}
