import Foundation
import InletServer
import InletTestSupport
import NIOHTTP1
import PostgresClient
import Testing

/// The enable flow: GET changes nothing, POST issues a token for Segment, and the tenant's
/// earlier tokens keep working until Segment first sends with the new one (then 24 h more).
@Suite struct EnableFlowTests {
    static let adminToken = "admin-secret-\(UUID().uuidString)"
    var admin: [(String, String)] { [("Authorization", "Bearer \(Self.adminToken)")] }

    func harness(_ label: String) throws -> IngestHarness {
        var harness = try IngestHarness(label)
        harness.configuration.adminToken = Self.adminToken
        return harness
    }

    /// (tokens, audit rows) of a tenant.
    func counts(_ connection: Connection, tenant: Int64) throws -> (tokens: Int, audit: Int) {
        let row = try connection.query(
            """
            SELECT (SELECT count(*) FROM inlet.tenant_tokens WHERE tenant_id = $1),
                   (SELECT count(*) FROM inlet.tenant_audit WHERE tenant_id = $1)
            """, tenant
        ).first
        return (try row?.decode(Int.self, at: 0) ?? -1, try row?.decode(Int.self, at: 1) ?? -1)
    }

    /// The token inside an enable URL's `settings`.
    func token(inEnableURL text: String) throws -> String {
        let components = try #require(URLComponents(string: text))
        let settings = try #require(components.queryItems?.first { $0.name == "settings" }?.value)
        let object = try JSONSerialization.jsonObject(with: try #require(Data(base64Encoded: settings)))
        return try #require((object as? [String: String])?["apiKey"])
    }

    @Test func getOnTheEnableFlowChangesNothing() async throws {
        let harness = try harness("flow_get")
        let (tenant, _) = try harness.tenant()
        let before = try counts(harness.connect(), tenant: tenant)
        try await harness.run { [admin] client in
            for path in ["/admin/tenants/\(tenant)/enable-flow", "/admin/tenants/\(tenant)/enable"] {
                let answer = try await client.get(path, headers: admin)
                #expect(answer.status == 405, "\(path)")
                #expect(answer.headers["allow"] == "POST", "\(path)")
                #expect(answer.headers["location"] == nil)
                #expect(answer.body.contains("enable-flow"))
            }
        }
        let after = try counts(harness.connect(), tenant: tenant)
        #expect(after.tokens == before.tokens)
        #expect(after.audit == before.audit)
    }

    @Test func anAbandonedFlowLeavesTheWorkingTokenWorkingAndTheFirstUseStartsItsGrace() async throws {
        let harness = try harness("flow_first_use")
        let (tenant, working) = try harness.tenant()
        let url = harness.databaseURL
        @Sendable func expiry(ofTokenCreatedFirst first: Bool) throws -> (expires: Bool, hoursLeft: Double?) {
            let row = try TestDatabase.connect(url).query(
                """
                SELECT expires_at IS NOT NULL, extract(epoch FROM expires_at - now()) / 3600
                FROM inlet.tenant_tokens WHERE tenant_id = $1 ORDER BY created_at \(first ? "ASC" : "DESC") LIMIT 1
                """, tenant
            ).first
            return (try row?.decode(Bool.self, at: 0) ?? false, try row?.decode(Double?.self, at: 1))
        }

        try await harness.run { [admin] client in
            #expect(try await client.post("/", json: Messages.track(), token: working).status == 200)
            let started = try await client.send(.POST, "/admin/tenants/\(tenant)/enable-flow", headers: admin)
            #expect(started.status == 303)
            let location = try #require(started.headers["location"])
            #expect(started.json["enable_url"] as? String == location)
            #expect(started.headers["cache-control"] == "no-store")
            let flowToken = try token(inEnableURL: location)
            #expect(flowToken != working)
            #expect(try counts(harness.connect(), tenant: tenant).tokens == 2)

            // Started, not completed: the working token keeps working, with no expiry, through
            // several reloads.
            try await Task.sleep(for: .seconds(1))
            #expect(try await client.post("/", json: Messages.track(), token: working).status == 200)
            try await Task.sleep(for: .milliseconds(500))
            #expect(try expiry(ofTokenCreatedFirst: true).expires == false)

            // Segment sends with the new token: from then on the earlier one has 24 h.
            #expect(try await eventually { try await client.post("/", json: Messages.track(), token: flowToken).status == 200 })
            #expect(try await eventually { try expiry(ofTokenCreatedFirst: true).expires })
            let hoursLeft = try #require(try expiry(ofTokenCreatedFirst: true).hoursLeft)
            #expect(hoursLeft > 23.9 && hoursLeft <= 24.0, "\(hoursLeft)")
            #expect(try expiry(ofTokenCreatedFirst: false).expires == false)
            // Within its grace, it still works.
            #expect(try await client.post("/", json: Messages.track(), token: working).status == 200)
        }

        let db = try harness.connect()
        let firstUse = try db.query(
            "SELECT first_used_at IS NOT NULL, supersedes_on_first_use FROM inlet.tenant_tokens WHERE tenant_id = $1 ORDER BY created_at",
            tenant
        ).rows.map { "\(try $0.decode(Bool.self, at: 0))/\(try $0.decode(Bool.self, at: 1))" }
        #expect(firstUse == ["true/false", "true/true"])
        let audit = try db.query("SELECT action || '/' || actor FROM inlet.tenant_audit WHERE tenant_id = $1 ORDER BY id", tenant)
            .rows.map { try $0.decode(String.self, at: 0) }
        #expect(audit == ["create/cli", "enable_flow_started/admin-api", "enable_flow_token_used/ingest"])
    }

    /// Several instances may each see the token's first use: whichever records first, and in
    /// whatever order, the earliest use counts and the grace is audited once.
    @Test func firstUsesRecordedByTwoInstancesKeepTheEarliest() throws {
        let url = try TestDatabase.createMigrated("flow_instances")
        let (tenant, original) = try TenantStore(connection: TestDatabase.connect(url)).create(name: "two instances")
        let flow = try TenantStore(connection: TestDatabase.connect(url)).startEnableFlow(id: tenant.id)
        let later = try TenantStore(connection: TestDatabase.connect(url)).startEnableFlow(id: tenant.id)

        let instanceA = TenantStore(connection: try TestDatabase.connect(url))
        let instanceB = TenantStore(connection: try TestDatabase.connect(url))
        #expect(try instanceA.recordFirstUse(sha256: flow.sha256, secondsAgo: 1) == true)
        #expect(try instanceB.recordFirstUse(sha256: flow.sha256, secondsAgo: 600) == false)
        #expect(try instanceA.recordFirstUse(sha256: flow.sha256, secondsAgo: 0) == false)

        let db = try TestDatabase.connect(url)
        func secondsFromNow(_ column: String, _ token: TenantToken) throws -> Double? {
            try db.query(
                "SELECT extract(epoch FROM \(column) - now()) FROM inlet.tenant_tokens WHERE token_sha256 = $1", ByteaValue(token.sha256)
            ).first?.decode(Double?.self, at: 0)
        }
        let used = try #require(try secondsFromNow("first_used_at", flow))
        #expect(abs(used + 600) < 5, "\(used)")
        let expires = try #require(try secondsFromNow("expires_at", original))
        #expect(abs(expires - (86_400 - 600)) < 5, "\(expires)")
        // The flow itself, and a flow started after it, are not superseded.
        #expect(try secondsFromNow("expires_at", flow) == nil)
        #expect(try secondsFromNow("expires_at", later) == nil)
        let audited = try db.query(
            "SELECT count(*) FROM inlet.tenant_audit WHERE tenant_id = $1 AND action = 'enable_flow_token_used'", tenant.id
        ).first?.decode(Int.self, at: 0)
        #expect(audited == 1)
    }
}
