import InletSchema
import InletServer
import InletTestSupport
import Logging
import Testing

/// What the server logs about the database never quotes its password.
@Suite struct LogRedactionTests {
    /// libpq quotes the part of a connection string it cannot parse, password included; the
    /// readiness state (logged when it changes) must not carry it.
    @Test(arguments: [
        "postgresql://inlet:s3cret%zz@127.0.0.1:1/db",
        "postgresql://inlet:s3cret@[::1/db",
        "host=127.0.0.1 port=1 user=inlet s3cret",
    ])
    func aMalformedDatabaseURLsPasswordIsNotLogged(url: String) async throws {
        let readiness = Readiness(
            database: BlockingDatabase(url: url), migrations: try MigrationSet.embedded(), interval: .seconds(1),
            logger: Logger(label: "inlet-tests"))
        await readiness.check()
        guard case .databaseUnavailable(let reason) = readiness.state else {
            Issue.record("\(readiness.state)")
            return
        }
        #expect(!reason.contains("s3cret"), "\(reason)")
        #expect(!reason.isEmpty)
    }
}
