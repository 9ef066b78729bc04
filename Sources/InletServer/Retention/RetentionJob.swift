import Logging
import PostgresClient
import ServiceLifecycle

/// The daily retention of `inlet serve`: months older than `INLET_RETENTION` are dropped (when
/// it is set) and the service's tables are pruned to `INLET_SERVICE_RETENTION`.
///
/// Every `checkInterval` (an hour) an instance asks whether a run is due: the last one
/// (`inlet.daily_jobs`) is `period` old. The check and the run hold an advisory lock, so one
/// instance runs at a time and a day's run happens once, whichever instance gets there first;
/// a run that failed or was stopped is not recorded, so the next check does it again. The first
/// check comes `checkInterval` after start: a restarting fleet does not prune on its way up.
/// (Exactly-once claims, `inlet.arrival_keyed_messages`, stay with the hourly upkeep of
/// ``Readiness``, their 30 days fixed by the exactly-once window.)
public final class RetentionJob: Service, Sendable {
    /// What one run did.
    public struct Outcome: Sendable, Equatable {
        /// Nil when `INLET_RETENTION` is unset (months are kept).
        public var partitions: PartitionPruner.Progress?
        public var serviceTables = ServiceTablePruner.Result()
    }

    /// Longest one statement of a run (a DETACH, a batch of deletes) may take.
    static let statementTimeout = "5min"

    private let databaseURL: String
    private let configuration: RetentionConfiguration
    private let logger: Logger
    private let checkInterval: Duration
    private let period: Duration

    public init(
        databaseURL: String, configuration: RetentionConfiguration, logger: Logger, checkInterval: Duration = .seconds(3_600),
        period: Duration = .seconds(86_400)
    ) {
        self.databaseURL = databaseURL
        self.configuration = configuration
        self.logger = logger
        self.checkInterval = checkInterval
        self.period = period
    }

    public func run() async throws {
        try await repeatUntilShutdown(every: checkInterval, startingAfter: checkInterval) {
            do {
                if let outcome = try await self.runIfDue() { self.log(outcome) }
            } catch {
                self.logger.warning("retention run failed; the next check tries again", metadata: ["error": "\(logDescription(error))"])
            }
        }
    }

    /// Runs the job when it is due and no other instance is running it; nil when it was not.
    public func runIfDue() async throws -> Outcome? {
        let (url, configuration, period) = (databaseURL, configuration, period)
        return try await stepsUntilCancelled(thread: "inlet-retention") { stop -> Outcome? in
            // Once a check an hour: a connection of its own, as long as the run. A shutdown
            // cancels its statement: a DETACH cut short is left pending, finalized next time.
            let connection = try Connection(url: url, applicationName: "inlet-retention")
            try stop.cancelsStatements(of: connection)
            // A DETACH waits for the queries that see its partition (an analyst's transaction
            // left open): bounded, so a run never waits for hours; one cut short leaves the
            // partition detach pending, and the next run finalizes it.
            try connection.execute("SET statement_timeout = '\(RetentionJob.statementTimeout)'; SET lock_timeout = '1min'")
            guard try connection.query("SELECT pg_try_advisory_lock(hashtext('inlet.retention'))").first?.decode(Bool.self, at: 0) == true
            else { return nil }
            let due = try connection.query(
                """
                SELECT coalesce((SELECT last_run_at <= now() - make_interval(secs => $1) FROM inlet.daily_jobs WHERE name = 'retention'), true)
                """, Double(period.components.seconds)
            ).first?.decode(Bool.self, at: 0) ?? false
            guard due else { return nil }
            var outcome = Outcome()
            // A prune that cannot finish now (a month's detach waiting, a lock) does not keep the
            // service tables from their pruning: it is logged and tried at the next run.
            var pruneError: (any Error)?
            if let retention = configuration.retention {
                do {
                    outcome.partitions = try PartitionPruner(connection: connection).prune(olderThan: retention, shouldStop: { stop.isRequested })
                } catch where !stop.isRequested {
                    pruneError = error
                }
            }
            if stop.isRequested { return outcome }
            outcome.serviceTables = try ServiceTablePruner(connection: connection).prune(olderThan: configuration.serviceRetention)
            if let pruneError { throw pruneError }
            try connection.query(
                """
                INSERT INTO inlet.daily_jobs (name, last_run_at) VALUES ('retention', now())
                ON CONFLICT (name) DO UPDATE SET last_run_at = EXCLUDED.last_run_at
                """)
            return outcome
        }
    }

    private func log(_ outcome: Outcome) {
        var metadata: Logger.Metadata = [
            "quarantined_deleted": "\(outcome.serviceTables.quarantined)",
            "traffic_hours_deleted": "\(outcome.serviceTables.trafficHours)",
            "delete_requests_deleted": "\(outcome.serviceTables.deleteRequests)",
        ]
        if let partitions = outcome.partitions {
            metadata["months_dropped"] = "\(partitions.months.joined(separator: ","))"
            metadata["partitions_dropped"] = "\(partitions.partitionsDropped)"
        }
        logger.info("retention run", metadata: metadata)
    }
}
