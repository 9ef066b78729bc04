import Logging
import ServiceLifecycle

/// Keeps every tenant's BI views current in `inlet serve`: new events, properties and traits
/// appear as columns within one interval of arriving, without anyone running `inlet bi
/// refresh`. With several instances, each tenant is refreshed by one at a time (``BIRefresh``).
public final class BIRefreshService: Service, Sendable {
    private let session: DatabaseSession
    private let interval: Duration
    private let logger: Logger

    public init(database: BlockingDatabase, interval: Duration, logger: Logger) {
        // A refresh may scan a busy hour of rows: its calls get much longer than the usual
        // background session's few seconds.
        self.session = DatabaseSession(url: database.url, applicationName: "inlet-bi-refresh", callTimeout: .seconds(3_600))
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        try await repeatUntilShutdown(every: interval) { await self.refreshAll() }
        session.close()
    }

    func refreshAll() async {
        do {
            let reports = try await session.withConnection { connection in try BIRefresh(connection: connection).refreshAll() }
            for report in reports where report.created + report.replaced + report.busy.count + report.failed.count > 0 {
                logger.info(
                    "BI views refreshed",
                    metadata: [
                        "tenant": "\(report.tenantID)", "schema": "\(report.schema)", "created": "\(report.created)",
                        "replaced": "\(report.replaced)", "busy": "\(report.busy.count)", "failed": "\(report.failed)",
                    ])
            }
        } catch {
            logger.warning("BI refresh failed; retried at the next interval", metadata: ["error": "\(logDescription(error))"])
        }
    }
}
