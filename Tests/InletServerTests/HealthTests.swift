import Hummingbird
import HummingbirdTesting
import InletServer
import InletTestSupport
import Logging
import Testing

@Suite struct HealthTests {
    func application(databaseURL: String) throws -> some ApplicationProtocol {
        try buildApplication(
            configuration: ServerConfiguration(
                host: "127.0.0.1", port: 0, databaseURL: databaseURL, readinessInterval: .milliseconds(100)),
            logger: Logger(label: "inlet-tests"))
    }

    /// Polls `/readyz` until it answers `status` or 5 s pass; returns the last answer.
    func readyz(_ client: some TestClientProtocol, until status: HTTPResponse.Status) async throws -> TestResponse {
        var response = try await client.execute(uri: "/readyz", method: .get)
        for _ in 0..<50 where response.status != status {
            try await Task.sleep(for: .milliseconds(100))
            response = try await client.execute(uri: "/readyz", method: .get)
        }
        return response
    }

    @Test func readyWhenTheSchemaIsCurrent() async throws {
        let app = try application(databaseURL: try TestDatabase.createMigrated("ready"))
        try await app.test(.live) { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            let response = try await readyz(client, until: .ok)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body).contains("ready"))
        }
    }

    @Test func notReadyWhileMigrationsArePending() async throws {
        let app = try application(databaseURL: try TestDatabase.createEmpty("unmigrated"))
        try await app.test(.live) { client in
            // Past the first check ("starting"), it names the cause.
            var settled = try await client.execute(uri: "/readyz", method: .get)
            for _ in 0..<50 where !String(buffer: settled.body).contains("migrator up") {
                try await Task.sleep(for: .milliseconds(100))
                settled = try await client.execute(uri: "/readyz", method: .get)
            }
            #expect(settled.status == .serviceUnavailable)
            #expect(String(buffer: settled.body).contains("migrator up"))
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }

    @Test func notReadyWhenTheDatabaseIsUnreachable() async throws {
        let app = try application(databaseURL: "postgresql://nobody@127.0.0.1:1/none")
        try await app.test(.live) { client in
            var response = try await client.execute(uri: "/readyz", method: .get)
            for _ in 0..<50 where !String(buffer: response.body).contains("database unavailable") {
                try await Task.sleep(for: .milliseconds(100))
                response = try await client.execute(uri: "/readyz", method: .get)
            }
            #expect(response.status == .serviceUnavailable)
            #expect(String(buffer: response.body).contains("database unavailable"))
            #expect(!String(buffer: response.body).contains("127.0.0.1"))
        }
    }
}
