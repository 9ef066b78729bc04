import Logging
import PostgresClient
import ServiceLifecycle

/// Keeps every tenant's BI views current in `inlet serve`: new events, properties and traits
/// appear as columns within one interval of arriving, without anyone running `inlet bi
/// refresh`. With several instances, each tenant is refreshed by one at a time (``BIRefresh``).
public final class BIRefreshService: Service, Sendable {
    private let databaseURL: String
    private let interval: Duration
    private let logger: Logger

    public init(database: BlockingDatabase, interval: Duration, logger: Logger) {
        self.databaseURL = database.url
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        try await repeatUntilShutdown(every: interval) { await self.refreshAll() }
    }

    /// One pass over every tenant, on a thread and a connection of its own (a pass may scan a
    /// busy hour of rows). At shutdown the running statement is cancelled and the pass stops
    /// between steps: it never holds up the drain.
    func refreshAll() async {
        let url = databaseURL
        do {
            let reports = try await stepsUntilCancelled(thread: "inlet-bi-refresh") { stop in
                let connection = try Connection(url: url, applicationName: "inlet-bi-refresh")
                try stop.cancelsStatements(of: connection)
                do {
                    return try BIRefresh(connection: connection, shouldStop: { stop.isRequested }).refreshAll()
                } catch where stop.isRequested {
                    throw BIRefreshStopped()  // the shutdown cancelled its statement
                }
            }
            for report in reports where report.created + report.replaced + report.busy.count + report.failed.count > 0 {
                logger.info(
                    "BI views refreshed",
                    metadata: [
                        "tenant": "\(report.tenantID)", "schema": "\(report.schema)", "created": "\(report.created)",
                        "replaced": "\(report.replaced)", "busy": "\(report.busy.count)", "failed": "\(report.failed)",
                    ])
            }
        } catch is BIRefreshStopped {
            logger.info("BI refresh stopped for shutdown; the next start goes on from what it committed")
        } catch {
            logger.warning("BI refresh failed; retried at the next interval", metadata: ["error": "\(logDescription(error))"])
        }
    }
}
