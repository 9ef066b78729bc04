import Logging
import PostgresClient
import ServiceLifecycle

/// Carries out erasure requests in the background of `inlet serve`: every `interval`, each
/// tenant with an unfinished request gets an ``ErasurePass``.
///
/// The poll uses one long-lived connection (`inlet-erasure`); a pass, when there is work, its own
/// (`inlet-erasure-pass`) on a thread of its own, since a step may read a large month for
/// minutes. Several instances may run: passes claim requests step by step (`SKIP LOCKED`), so
/// they share the work and never wait on each other. At shutdown the pass's running step is
/// cancelled (it rolls back); the next pass, on any instance, resumes from the committed cursor.
public final class ErasureWorker: Service, Sendable {
    private let session: DatabaseSession
    private let databaseURL: String
    private let interval: Duration
    private let logger: Logger

    public init(database: BlockingDatabase, interval: Duration, logger: Logger) {
        self.session = database.session("inlet-erasure")
        self.databaseURL = database.url
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        try await repeatUntilShutdown(every: interval) { await self.carryOutRequests() }
        session.close()
    }

    /// One poll: a pass for every tenant with unfinished requests.
    public func carryOutRequests() async {
        let tenants: [Int64]
        do {
            tenants = try await session.withConnection { try ErasurePass.tenantsWithWork(on: $0) }
        } catch {
            // Readiness reports an unreachable database; this poll tries again at the next tick.
            logger.debug("could not look for erasure requests", metadata: ["error": "\(logDescription(error))"])
            return
        }
        guard !tenants.isEmpty else { return }
        let (url, logger) = (databaseURL, logger)
        do {
            try await stepsUntilCancelled(thread: "inlet-erasure-pass") { stop in
                let connection = try Connection(url: url, applicationName: "inlet-erasure-pass")
                try stop.cancelsStatements(of: connection)
                for tenant in tenants where !stop.isRequested {
                    do {
                        let outcome = try ErasurePass(connection: connection).run(tenant: tenant, shouldStop: { stop.isRequested })
                        if outcome.finished > 0 || outcome.rowsDeleted > 0 {
                            logger.info(
                                "erasure pass", metadata: [
                                    "tenant": "\(tenant)", "rows_deleted": "\(outcome.rowsDeleted)", "requests_finished": "\(outcome.finished)",
                                ])
                        }
                    } catch let error as PostgresError where error.isConnectionFailure {
                        throw error
                    } catch where stop.isRequested {
                        // Shutdown cancelled the step: it rolled back, and the next pass does it.
                        logger.info("erasure pass stopped for shutdown", metadata: ["tenant": "\(tenant)"])
                    } catch {
                        // One tenant's failure (a lock not had in time) leaves the others' passes.
                        logger.warning(
                            "erasure pass stopped; the next one resumes it",
                            metadata: ["tenant": "\(tenant)", "error": "\(logDescription(error))"])
                    }
                }
            }
        } catch {
            logger.warning("erasure pass stopped; the next one resumes it", metadata: ["error": "\(logDescription(error))"])
        }
    }
}
