import Hummingbird
import InletSchema
import Logging

/// Assembles the HTTP application and its background services. `inlet serve` and the tests both
/// call this, so what is tested is what runs.
public func buildApplication(configuration: ServerConfiguration, logger: Logger) throws -> some ApplicationProtocol {
    let migrations = try MigrationSet.embedded()
    let database = BlockingDatabase(url: configuration.databaseURL)
    let readiness = Readiness(
        database: database, migrations: migrations, interval: configuration.readinessInterval, logger: logger)

    let router = Router()
    HealthRoutes(readiness: readiness).register(on: router)

    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "inlet"),
        services: [readiness],
        logger: logger
    )
}
