import InletSchema
import Logging
import PostgresClient
import ServiceLifecycle
import Synchronization

/// Keeps `/readyz`'s answer current: is the database reachable, and has it every migration this
/// binary was built with? Checked in the background every `interval`, so a probe never waits on
/// the database and an outage shows within about one interval.
///
/// While the database is reachable it also makes sure the current month's partitions and the
/// next two exist (once an hour), so a server running for months never lacks a partition.
///
/// Checks use one long-lived connection (`inlet-readiness` in `pg_stat_activity`), not one per
/// check. When it breaks, that check reports the database unavailable and the next one connects
/// again.
public final class Readiness: Service, Sendable {
    public enum State: Sendable, Equatable {
        case starting
        case ready
        case databaseUnavailable(String)
        case schemaNotCurrent
    }

    private let session: DatabaseSession
    private let migrations: MigrationSet
    private let interval: Duration
    private let logger: Logger
    private let current = Mutex<State>(.starting)
    private let lastPartitionCheck = Mutex<ContinuousClock.Instant?>(nil)

    public init(database: BlockingDatabase, migrations: MigrationSet, interval: Duration, logger: Logger) {
        self.session = database.session("inlet-readiness")
        self.migrations = migrations
        self.interval = interval
        self.logger = logger
    }

    public var state: State { current.withLock { $0 } }

    /// How long a message timestamped by its arrival is recognised when delivered again.
    static let arrivalKeyRetention = "30 days"

    public func run() async throws {
        try await repeatUntilShutdown(every: interval) { await self.check() }
        session.close()
    }

    /// Runs one check now and records its result.
    public func check() async {
        let migrations = migrations
        let ensurePartitions = lastPartitionCheck.withLock { last in
            last.map { ContinuousClock.now - $0 > .seconds(3_600) } ?? true
        }
        let next: State
        do {
            let logger = logger
            let (state, ensured) = try await session.withConnection { connection -> (State, Bool) in
                guard try migrations.isApplied(on: connection) else { return (.schemaNotCurrent, false) }
                guard ensurePartitions else { return (.ready, false) }
                // Months ahead of need, each attached under a lock_timeout (V0007): a month that
                // cannot be had now (a conflicting lock on a parent) is tried at the next check,
                // and says nothing about readiness.
                do {
                    try connection.transaction {
                        try connection.execute("SET LOCAL lock_timeout = '\(PartitionMonths.lockTimeout)'")
                        try connection.query(
                            "SELECT inlet.ensure_month_partitions(now() + make_interval(months => n)) FROM generate_series(0, 2) AS n")
                        // The same hourly upkeep: exactly-once claims of arrival-timestamped
                        // messages are kept for `arrivalKeyRetention` (V0009).
                        try connection.query(
                            "DELETE FROM inlet.arrival_keyed_messages WHERE \"timestamp\" < now() - interval '\(Readiness.arrivalKeyRetention)'")
                    }
                    return (.ready, true)
                } catch let error as PostgresError where !error.isConnectionFailure && error.sqlState != SQLState.undefinedTable {
                    logger.warning("could not create the coming months' partitions now", metadata: ["error": "\(logDescription(error))"])
                    return (.ready, false)
                }
            }
            next = state
            if ensured { lastPartitionCheck.withLock { $0 = .now } }
        } catch let error as PostgresError where error.sqlState == SQLState.undefinedTable {
            next = .schemaNotCurrent
        } catch {
            next = .databaseUnavailable("\(logDescription(error))")
        }
        let previous = current.withLock { state in
            defer { state = next }
            return state
        }
        if previous != next {
            logger.info("readiness changed", metadata: ["state": "\(next)"])
        }
    }
}
