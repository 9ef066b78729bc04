import Foundation
import InletSchema
import InletServer
import InletTestSupport
import Logging
import PostgresClient
import Testing

/// The background services (readiness, token reloads) keep one connection each instead of
/// connecting every tick, and connect again when theirs is lost.
@Suite struct BackgroundConnectionTests {
    /// The backends of `url`'s database that belong to the server's background services, as
    /// `application_name/pid/backend_start`, sorted.
    static func serviceBackends(_ connection: Connection) throws -> [String] {
        try connection.query(
            """
            SELECT application_name || '/' || pid || '/' || backend_start FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND application_name NOT IN ('inlet-tests', 'inlet-writer')
            ORDER BY 1
            """
        ).rows.map { try $0.decode(String.self, at: 0) }
    }

    @Test func theBackgroundServicesKeepTheirConnectionsAcrossTicks() async throws {
        let harness = try IngestHarness("connections_constant")  // readiness and reloads every 200 ms
        try await harness.run { _ in
            let observer = try harness.connect()
            // The two services that tick every 200 ms; the others (erasure, retention, BI)
            // connect when their own, later, turn comes, which a loaded machine makes late.
            func tickingBackends() throws -> [String] {
                try Self.serviceBackends(observer).filter { $0.hasPrefix("inlet-readiness/") || $0.hasPrefix("inlet-tenant-directory/") }
            }
            #expect(try await eventually(.seconds(10)) { try tickingBackends().count == 2 })
            let first = try tickingBackends()
            #expect(first.contains { $0.hasPrefix("inlet-readiness/") }, "\(first)")
            #expect(first.contains { $0.hasPrefix("inlet-tenant-directory/") }, "\(first)")
            // About 15 ticks of each service, sampled often: the same backends throughout.
            for _ in 0..<30 {
                try await Task.sleep(for: .milliseconds(100))
                #expect(try tickingBackends() == first)
            }
        }
    }

    @Test func readinessReportsALostConnectionAndConnectsAgain() async throws {
        let url = try TestDatabase.createMigrated("connections_readiness")
        let readiness = Readiness(
            database: BlockingDatabase(url: url), migrations: try MigrationSet.embedded(), interval: .seconds(1),
            logger: Logger(label: "inlet-tests"))
        let observer = try TestDatabase.connect(url)
        func readinessBackends() throws -> [Int32] {
            try observer.query(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'inlet-readiness'"
            ).rows.map { try $0.decode(Int32.self, at: 0) }
        }

        func becomesReady() async throws -> Bool {
            try await eventually(.seconds(30)) {
                await readiness.check()
                return readiness.state == .ready
            }
        }
        #expect(try await becomesReady(), "\(readiness.state)")
        await readiness.check()
        let before = try readinessBackends()
        #expect(before.count == 1)
        let pid = try #require(before.first)
        try observer.query("SELECT pg_terminate_backend($1)", pid)
        #expect(try await eventually { try readinessBackends().isEmpty })

        await readiness.check()
        guard case .databaseUnavailable = readiness.state else {
            Issue.record("after its connection was terminated: \(readiness.state)")
            return
        }
        // The next check connects again. (Retried: on a CI machine with two cores and 150 tests
        // starting at once, connecting once took longer than the 5 s connect timeout.)
        #expect(try await becomesReady(), "\(readiness.state)")
        // (A connection a timed-out check opened late may stand beside it for a moment.)
        #expect(try await eventually { try readinessBackends().count == 1 })
        let after = try readinessBackends()
        #expect(after.first != pid)
    }

    @Test func aRunningServerRecoversWhenItsConnectionsAreTerminated() async throws {
        let harness = try IngestHarness("connections_terminated")
        try await harness.run { client in
            let observer = try harness.connect()
            let services = try Self.serviceBackends(observer)
            #expect(services.count >= 2, "\(services)")
            try observer.query(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND application_name IN ('inlet-readiness', 'inlet-tenant-directory', 'inlet-erasure')
                """)
            // Within a few ticks (200 ms each; the bounds are generous because the whole test
            // run shares two cores and NIO's pool threads): a token created now authenticates
            // (the reloads work again), both services are on new connections, and ready.
            let (_, token) = try harness.tenant("after terminate")
            #expect(try await eventually(.seconds(10)) { try await client.post("/", json: Messages.track(), token: token).status == 200 })
            func replacedOnce() throws -> Bool {
                let now = try Self.serviceBackends(observer)
                return now.filter { $0.hasPrefix("inlet-readiness/") }.count == 1
                    && now.filter { $0.hasPrefix("inlet-tenant-directory/") }.count == 1 && Set(now).isDisjoint(with: services)
            }
            #expect(try await eventually(.seconds(10)) { try replacedOnce() })
            #expect(try await eventually(.seconds(10)) { try await client.get("/readyz").status == 200 })
            let replaced = try Self.serviceBackends(observer)
            #expect(Set(replaced).isDisjoint(with: services), "\(services) → \(replaced)")
        }
    }

    /// A server that stops answering (frozen, not down) must not hang a readiness check: the
    /// caller gets a timeout, and the next call works on a connection of its own.
    @Test func aCallThatDoesNotFinishInTimeIsGivenUp() async throws {
        let url = try TestDatabase.createMigrated("connections_timeout")
        let session = DatabaseSession(url: url, applicationName: "inlet-timeout-test", callTimeout: .seconds(1))
        // The call waits for a lock this test holds: it cannot finish before it is given up.
        let blocker = try TestDatabase.connect(url)
        try blocker.query("SELECT pg_advisory_lock(4242)")
        await #expect(throws: DatabaseSession.Timeout.self) {
            try await session.withConnection { try $0.query("SELECT pg_advisory_lock(4242)") }
        }
        // The abandoned call still holds the session's connection; the next one connects for
        // itself. (Retried: the tests share NIO's pool threads, and one is stuck here.)
        #expect(
            try await eventually(.seconds(10)) {
                (try? await session.withConnection { try $0.query("SELECT 41 + 1").first?.decode(Int.self, at: 0) }) == 42
            })
        try blocker.query("SELECT pg_advisory_unlock(4242)")
    }
}
