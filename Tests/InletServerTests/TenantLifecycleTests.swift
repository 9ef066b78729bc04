import Foundation
import InletServer
import InletTestSupport
import Logging
import PostgresClient
import Synchronization
import Testing

@Suite struct TenantLifecycleTests {
    @Test func aCreatedTenantsTokenStoresAMessageAndShowReportsTheTraffic() async throws {
        let harness = try IngestHarness("lifecycle_create")
        let (tenant, token) = try harness.tenant("Acme")
        try await harness.run { client async throws in
            #expect(try await client.post("/", json: Messages.array([Messages.track(), Messages.track()]), token: token).status == 200)
        }
        let details = try TenantStore(connection: harness.connect()).show(id: tenant)
        #expect(details.tenant.enabled)
        #expect(details.activeTokens == 1)
        #expect(details.messagesLast24Hours == 2)
        #expect(details.lastMessageAt != nil)
    }

    @Test func aDisabledTokenGets401WithinFiveSecondsOnARunningServer() async throws {
        let harness = try {
            var harness = try IngestHarness("lifecycle_disable")
            harness.configuration.ingest.tenantRefreshInterval = IngestConfiguration().tenantRefreshInterval  // the default
            return harness
        }()
        let (tenant, token) = try harness.tenant()
        try await harness.run { client async throws in
            #expect(try await client.post("/", json: Messages.track(), token: token).status == 200)
            _ = try TenantStore(connection: harness.connect()).setEnabled(id: tenant, false)
            let disabledAt = ContinuousClock.now
            var status = 200
            while status != 401 && ContinuousClock.now - disabledAt < .seconds(5) {
                try await Task.sleep(for: .milliseconds(100))
                status = try await client.post("/", json: Messages.track(), token: token).status
            }
            #expect(status == 401)
            // Enabled again, it works again.
            _ = try TenantStore(connection: harness.connect()).setEnabled(id: tenant, true)
            #expect(try await eventually { try await client.post("/", json: Messages.track(), token: token).status == 200 })
        }
    }

    @Test func rotationKeepsTheOldTokenForTheGracePeriodOnly() async throws {
        let harness = try IngestHarness("lifecycle_rotate")
        let (tenant, old) = try harness.tenant()
        try await harness.run { client in
            let (new, _) = try TenantStore(connection: harness.connect()).rotate(id: tenant, grace: .seconds(12))
            let rotatedAt = ContinuousClock.now
            // The new token works after the next reload; the old one meanwhile still does.
            #expect(try await eventually { try await client.post("/", json: "[]", token: new.value).status == 200 })
            #expect(try await client.post("/", json: Messages.track(), token: old).status == 200)
            // 12 s of grace: the whole suite shares two cores, and reloads then took up to 9 s.
            #expect(ContinuousClock.now - rotatedAt < .seconds(12), "the machine was too slow to check the grace period")
            // Past the grace period (and a reload), only the new one works.
            try await Task.sleep(until: rotatedAt + .seconds(12), clock: .continuous)
            #expect(try await eventually { try await client.post("/", json: "[]", token: old).status == 401 })
            #expect(try await client.post("/", json: Messages.track(), token: new.value).status == 200)
        }
        let audit = try harness.connect().query("SELECT action, actor FROM inlet.tenant_audit WHERE tenant_id = $1 ORDER BY id", tenant)
            .rows.map { "\(try $0.decode(String.self, at: 0))/\(try $0.decode(String.self, at: 1))" }
        #expect(audit == ["create/cli", "rotate/cli"])
    }

    @Test func theCommandLineManagesTenants() throws {
        let url = try TestDatabase.createMigrated("lifecycle_cli")
        let env = ["DATABASE_URL": url]
        let created = try BuiltProducts.run("inlet", ["tenant", "create", "Cli Co", "--json", "--redirect-url", "https://example.com/done"], environment: env)
        #expect(created.status == 0, "\(created.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any])
        let id = try #require(object["id"] as? Int)
        #expect((object["token"] as? String)?.count == 43)
        #expect((object["enable_url"] as? String)?.hasPrefix("https://app.segment.com/enable?integration=inlet&settings=") == true)

        let rotated = try BuiltProducts.run("inlet", ["tenant", "rotate", String(id), "--grace", "1h"], environment: env)
        #expect(rotated.status == 0, "\(rotated.error)")
        #expect(rotated.output.contains("new token"))
        #expect(try BuiltProducts.run("inlet", ["tenant", "disable", String(id)], environment: env).output.contains("disabled"))
        let shown = try BuiltProducts.run("inlet", ["tenant", "show", String(id)], environment: env)
        #expect(shown.output.contains("DISABLED"))
        #expect(shown.output.contains("2 usable"))
        #expect(try BuiltProducts.run("inlet", ["tenant", "enable", String(id)], environment: env).status == 0)
        #expect(try BuiltProducts.run("inlet", ["tenant", "list"], environment: env).output.contains("Cli Co"))
        #expect(try BuiltProducts.run("inlet", ["tenant", "show", "999999"], environment: env).status != 0)
    }
}

/// Collects every log line of an application, to check that no secret is ever logged.
final class CollectedLogs: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "inlet-tests") { _ in Handler(logs: self) }
    }

    struct Handler: LogHandler {
        let logs: CollectedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(
            level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String,
            function: String, line: UInt
        ) {
            logs.lines.withLock { $0.append("\(level) \(message) \(metadata) \(extra ?? [:])") }
        }
    }
}
