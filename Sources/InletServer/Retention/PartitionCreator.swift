import PostgresClient

/// Creates the partitions of a range of months ahead of time (`inlet partitions create`), so
/// that a Replay announced in advance does not create them on demand.
///
/// On demand, the first requests of a Replay over three years wait for every month of their
/// bodies: ~22 ms of DDL per month (six tables, each created and attached), 0.7-1.2 s for 33
/// months under load, during which nothing of theirs commits (docs/PERFORMANCE.md, s4).
public struct PartitionCreator {
    let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    /// A month as `YYYY-MM`, between 2000-01 (the earliest plausible `timestamp`; older ones are
    /// stored at their arrival time) and 9999-12.
    public struct Month: Comparable, Sendable, CustomStringConvertible {
        public let year: Int
        public let month: Int

        public init?(_ text: String) {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
                let year = Int(parts[0]), let month = Int(parts[1]), (2000...9999).contains(year), (1...12).contains(month)
            else { return nil }
            (self.year, self.month) = (year, month)
        }

        init(index: Int) { (year, month) = (index / 12, index % 12 + 1) }

        var index: Int { year * 12 + month - 1 }
        public var description: String { "\(year)-\(month < 10 ? "0" : "")\(month)" }
        public static func < (a: Month, b: Month) -> Bool { a.index < b.index }
    }

    /// Makes sure every month from `first` to `last` has its six partitions, each month in its
    /// own short transaction (a month waits at most `lockTimeout` for the parents' locks: an
    /// ATTACH, a VACUUM or an index build on a parent). Returns the partitions created (0 when
    /// all existed); `progress` is told each month done and the partitions created so far.
    @discardableResult
    public func create(from first: Month, to last: Month, lockTimeout: String = "10s", progress: (Month, Int) -> Void = { _, _ in })
        throws -> Int
    {
        var created = 0
        for index in first.index...max(first.index, last.index) {
            let month = Month(index: index)
            let start = Timestamp(.init(year: month.year, month: month.month, day: 1))
            try connection.transaction {
                try connection.execute("SET LOCAL lock_timeout = '\(lockTimeout)'")
                created += try connection.query("SELECT inlet.ensure_month_partitions($1)", start).rows.first?.decode(Int.self, at: 0) ?? 0
            }
            progress(month, created)
        }
        return created
    }

    /// The current month, by the database's clock.
    public func currentMonth() throws -> Month {
        let text: String = try connection.query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM')").rows[0].decode(at: 0)
        return Month(text)!
    }
}
