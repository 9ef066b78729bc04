import PostgresClient

/// `inlet partitions prune`: drops the months of the message tables whose end is older than a
/// bound, never the current month nor a later one.
///
/// Each partition is detached with `DETACH PARTITION ... CONCURRENTLY`, which takes only SHARE
/// UPDATE EXCLUSIVE on the parent, so neither BI readers nor writers wait on it (it waits for
/// the queries that already see the partition), then dropped; the DROP's ACCESS EXCLUSIVE
/// falls on the detached table alone, which nothing reads any more. CONCURRENTLY cannot run in
/// a transaction block: the connection must be in autocommit (no BEGIN around this).
///
/// An interrupted prune leaves a partition "detach pending" (stopped inside DETACH) or detached
/// but not dropped; the next prune finishes either (`DETACH ... FINALIZE`, `DROP`). One prune at
/// a time, under an advisory lock.
public struct PartitionPruner {
    public struct Progress: Sendable, Equatable {
        /// The months that are (or, with `dryRun`, would be) dropped.
        public var months: [String] = []
        public var partitionsTotal = 0
        public var partitionsDropped = 0
        /// Of them, partitions an interrupted prune had left detach pending.
        public var finalized = 0
        public var bytesFreed: Int64 = 0
        /// The partition being dropped.
        public var current: String?
    }

    let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    /// The partitions of months whose end is older than now − `olderThan` (UTC months), and
    /// never of the current month or a later one.
    public func candidates(olderThan: Duration) throws -> [MonthPartition] {
        let seconds = Double(olderThan.components.seconds)
        guard
            let bounds = try connection.query(
                """
                SELECT (extract(year FROM c) * 12 + extract(month FROM c) - 1)::int,
                       (extract(year FROM n) * 12 + extract(month FROM n) - 1)::int
                FROM (SELECT (now() - make_interval(secs => $1)) AT TIME ZONE 'UTC' AS c, now() AT TIME ZONE 'UTC' AS n) AS t
                """, seconds
            ).first
        else { return [] }
        // A month ends when the next begins: it has ended by the cutoff when it is before the cutoff's month.
        let bound = min(try bounds.decode(Int.self, at: 0), try bounds.decode(Int.self, at: 1))
        return try PartitionCatalog(connection: connection).partitions().filter { $0.monthIndex < bound }
    }

    /// Drops the partitions of `candidates(olderThan:)`, or only says which with `dryRun`.
    /// `shouldStop` is asked before each partition; `progress` is told after each.
    @discardableResult
    public func prune(
        olderThan: Duration, dryRun: Bool = false, shouldStop: () -> Bool = { false }, progress: (Progress) -> Void = { _ in }
    ) throws -> Progress {
        var state = Progress()
        if !dryRun {
            let locked = try connection.query("SELECT pg_try_advisory_lock(hashtext('inlet.partitions.prune'))").first?.decode(Bool.self, at: 0)
            guard locked == true else {
                throw PruneError(description: "another prune is running (inlet serve's daily retention, or a `partitions prune`)")
            }
        }
        defer { if !dryRun { _ = try? connection.query("SELECT pg_advisory_unlock(hashtext('inlet.partitions.prune'))") } }
        // A parent can have one partition detach pending at a time (a second DETACH CONCURRENTLY
        // is refused until it is finalized), and a month left detached gets no rows (its inserts
        // fail, as ensure_month_partitions finds the table and creates nothing): what an
        // interrupted prune left outside this bound (a shorter --older-than than this one, a
        // raised INLET_RETENTION) is attached again first; inside it, it goes first.
        if !dryRun { try reattachStrays(outside: try candidates(olderThan: olderThan)) }
        let order: [MonthPartition.State: Int] = [.detachPending: 0, .detached: 1, .attached: 2]
        let partitions = try candidates(olderThan: olderThan).enumerated()
            .sorted { (order[$0.element.state] ?? 2, $0.offset) < (order[$1.element.state] ?? 2, $1.offset) }.map(\.element)
        state.months = Array(Set(partitions.map(\.month))).sorted()
        state.partitionsTotal = partitions.count
        progress(state)
        guard !dryRun else { return state }
        for partition in partitions {
            if shouldStop() { break }
            state.current = partition.qualifiedName
            try drop(partition)
            state.partitionsDropped += 1
            if partition.state == .detachPending { state.finalized += 1 }
            state.bytesFreed += partition.bytes
            progress(state)
        }
        state.current = nil
        return state
    }

    /// Finishes the detach of every partition an interrupted prune left that `candidates` does
    /// not hold, and attaches it again with its month's bounds.
    private func reattachStrays(outside candidates: [MonthPartition]) throws {
        let keep = Set(candidates.map(\.qualifiedName))
        for partition in try PartitionCatalog(connection: connection).partitions()
        where partition.state != .attached && !keep.contains(partition.qualifiedName) {
            let parent = "events.\(try connection.escapeIdentifier(partition.table))"
            let child = "events.\(try connection.escapeIdentifier(partition.name))"
            if partition.state == .detachPending {
                try connection.execute("ALTER TABLE \(parent) DETACH PARTITION \(child) FINALIZE")
            }
            let bounds = try connection.query(
                """
                SELECT (to_timestamp($1, 'YYYY-MM') AT TIME ZONE 'UTC')::timestamp AT TIME ZONE 'UTC',
                       ((to_timestamp($1, 'YYYY-MM') AT TIME ZONE 'UTC')::timestamp + interval '1 month') AT TIME ZONE 'UTC'
                """, partition.month
            ).first
            guard let bounds else { continue }
            try connection.execute(
                "ALTER TABLE \(parent) ATTACH PARTITION \(child) FOR VALUES FROM ('\(try bounds.decode(String.self, at: 0))') TO ('\(try bounds.decode(String.self, at: 1))')")
        }
    }

    private func drop(_ partition: MonthPartition) throws {
        let parent = "events.\(try connection.escapeIdentifier(partition.table))"
        let child = "events.\(try connection.escapeIdentifier(partition.name))"
        switch partition.state {
        case .attached:
            try connection.execute("ALTER TABLE \(parent) DETACH PARTITION \(child) CONCURRENTLY")
        case .detachPending:
            try connection.execute("ALTER TABLE \(parent) DETACH PARTITION \(child) FINALIZE")
        case .detached:
            break
        }
        try connection.execute("DROP TABLE IF EXISTS \(child)")
    }

    /// A prune that cannot start.
    public struct PruneError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }
}
