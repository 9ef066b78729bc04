import Foundation
import InletServer
import InletTestSupport
import NIOHTTP1
import PostgresClient
import Synchronization
import Testing

@Suite struct AdminAPITests {
    static let adminToken = "admin-secret-\(UUID().uuidString)"

    func harness(_ label: String) throws -> IngestHarness {
        var harness = try IngestHarness(label)
        harness.configuration.adminToken = Self.adminToken
        harness.configuration.publicURL = "https://inlet.example.com"
        return harness
    }

    var admin: [(String, String)] { [("Authorization", "Bearer \(Self.adminToken)")] }

    @Test func theAdminAPIIsAbsentWithoutAnAdminToken() async throws {
        let harness = try IngestHarness("admin_absent")
        try await harness.run { client async throws in
            #expect(try await client.get("/admin/tenants", headers: [("Authorization", "Bearer anything")]).status == 404)
        }
    }

    @Test func theAdminAPIRefusesAMissingOrWrongToken() async throws {
        try await harness("admin_refuses").run { client async throws in
            #expect(try await client.get("/admin/tenants").status == 401)
            #expect(try await client.get("/admin/tenants", headers: [("Authorization", "Bearer wrong")]).status == 401)
            #expect(try await client.send(.POST, "/admin/tenants", body: #"{"name":"x"}"#).status == 401)
            #expect(try await client.get("/admin/tenants/1/enable").status == 401)
            #expect(try await client.send(.POST, "/admin/tenants/1/enable-flow").status == 401)
        }
    }

    @Test func tenantsAreManagedThroughTheAdminAPIAndTheEnableFlowRedirectsWithAWorkingToken() async throws {
        let harness = try harness("admin_flow")
        let logs = CollectedLogs()
        let tokens = try await harness.run(logger: logs.logger) { [admin] client in
            let created = try await client.send(
                .POST, "/admin/tenants", headers: admin, body: #"{"name":"Globex","redirect_url":"https://app.globex.test/done"}"#)
            #expect(created.status == 201, "\(created.body)")
            let id = try #require(created.json["id"] as? Int)
            let firstToken = try #require(created.json["token"] as? String)

            #expect(try await client.get("/admin/tenants", headers: admin).body.contains("Globex"))
            #expect(try await client.get("/admin/tenants/\(id)", headers: admin).json["activeTokens"] as? Int == 1)
            #expect(try await client.get("/admin/tenants/999999", headers: admin).status == 404)

            // The enable flow: POST answers 303 to Segment with a fresh token inside the settings.
            let redirect = try await client.send(.POST, "/admin/tenants/\(id)/enable-flow", headers: admin)
            #expect(redirect.status == 303)
            let locationText = try #require(redirect.headers["location"])
            #expect(redirect.json["enable_url"] as? String == locationText)
            let location = try #require(URLComponents(string: locationText))
            #expect(location.host == "app.segment.com")
            let items = Dictionary(uniqueKeysWithValues: (location.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            let settingsText = try #require(items["settings"])
            let settingsData = try #require(Data(base64Encoded: settingsText))
            let settings = try #require(try JSONSerialization.jsonObject(with: settingsData) as? [String: String])
            let flowToken = try #require(settings["apiKey"])
            #expect(flowToken != firstToken)
            let redirectText = try #require(items["redirect_url"])
            let redirectData = try #require(Data(base64Encoded: redirectText))
            let callback = String(decoding: redirectData, as: UTF8.self)
            #expect(callback.hasPrefix("https://inlet.example.com/enable/callback?tenant=\(id)&signature="))

            // Segment sends the user back: the callback records completion and shows a page.
            let callbackPath = String(callback.dropFirst("https://inlet.example.com".count))
            let page = try await client.get(callbackPath)
            #expect(page.status == 200)
            #expect(page.body.contains("Segment is connected"))
            #expect(page.body.contains("https://app.globex.test/done"))
            #expect(try await client.get("/enable/callback?tenant=\(id)&signature=forged").status == 404)

            #expect(try await eventually { try await client.post("/", json: Messages.track(), token: flowToken).status == 200 })
            // Its first use is recorded in the background (and audited) before the rotation below.
            let url = harness.databaseURL
            #expect(
                try await eventually {
                    try TestDatabase.connect(url).query("SELECT 1 FROM inlet.tenant_audit WHERE action = 'enable_flow_token_used'").first != nil
                })

            let rotated = try await client.send(.POST, "/admin/tenants/\(id)/rotate", headers: admin, body: #"{"grace_seconds":0}"#)
            let rotatedToken = try #require(rotated.json["token"] as? String)
            #expect(try await client.send(.POST, "/admin/tenants/\(id)/disable", headers: admin).json["enabled"] as? Bool == false)
            #expect(try await client.send(.POST, "/admin/tenants/\(id)/enable", headers: admin).json["enabled"] as? Bool == true)
            #expect(try await eventually { try await client.post("/", json: Messages.track(), token: flowToken).status == 401 })
            #expect(try await eventually { try await client.post("/", json: Messages.track(), token: rotatedToken).status == 200 })
            return [firstToken, flowToken, rotatedToken]
        }

        let db = try harness.connect()
        let completed = try db.query("SELECT enable_completed_at IS NOT NULL FROM inlet.tenants WHERE name = 'Globex'").first
        #expect(try completed?.decode(Bool.self, at: 0) == true)
        let actions = try db.query("SELECT action || '/' || actor FROM inlet.tenant_audit ORDER BY id").rows.map { try $0.decode(String.self, at: 0) }
        #expect(
            actions == [
                "create/admin-api", "enable_flow_started/admin-api", "enable_flow_completed/admin-api",
                "enable_flow_token_used/ingest", "rotate/admin-api",
                "disable/admin-api", "enable/admin-api",
            ])

        // No token in plaintext anywhere in the service's tables, nor in the logs.
        let everything = try db.query(
            """
            SELECT string_agg(x, ' ') FROM (
                SELECT t::text AS x FROM inlet.tenants t UNION ALL SELECT k::text FROM inlet.tenant_tokens k
                UNION ALL SELECT a::text FROM inlet.tenant_audit a UNION ALL SELECT r::text FROM inlet.rejected_messages r
                UNION ALL SELECT encode(token_sha256, 'escape') FROM inlet.tenant_tokens) s
            """
        ).first?.decode(String?.self, at: 0) ?? ""
        let logged = logs.lines.withLock { $0.joined(separator: "\n") }
        for token in tokens {
            #expect(!everything.contains(token))
            #expect(!logged.contains(token))
        }
        #expect(!logged.contains(Self.adminToken))
    }

    @Test func segmentSettingsAreKeptAndWrittenOnlyWhenTheyChange() async throws {
        let harness = try IngestHarness("settings")
        let (tenant, token) = try harness.tenant()
        let first = Data(#"{"apiKey":"x","region":"eu"}"#.utf8).base64EncodedString()
        let second = Data(#"{"apiKey":"x","region":"us"}"#.utf8).base64EncodedString()
        let url = harness.databaseURL
        @Sendable func stored() throws -> (String?, Timestamp?) {
            let row = try TestDatabase.connect(url).query(
                "SELECT segment_settings->>'region', settings_updated_at FROM inlet.tenants WHERE id = $1", tenant
            ).first
            return (try row?.decode(String?.self, at: 0), try row?.decode(Timestamp?.self, at: 1))
        }
        try await harness.run { client async throws in
            #expect(try await client.post("/", json: Messages.track(), token: token, headers: [("X-Segment-Settings", first)]).status == 200)
            #expect(try await eventually { try stored().0 == "eu" })
            let updated = try stored().1
            for _ in 0..<5 {
                _ = try await client.post("/", json: Messages.track(), token: token, headers: [("X-Segment-Settings", first)])
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try stored().1 == updated)  // not rewritten
            _ = try await client.post("/", json: Messages.track(), token: token, headers: [("X-Segment-Settings", second)])
            #expect(try await eventually { try stored().0 == "us" })
        }
    }

    @Test func credentialsInSegmentSettingsAreNotStored() async throws {
        let harness = try IngestHarness("settings_credentials")
        let (tenant, token) = try harness.tenant()
        let secrets = ["secret-k1", "secret-k2", "secret-k3", "secret-k4", "secret-k5", "secret-k6"]
        let settings = """
            {"apiKey":"secret-k1","region":"eu","write_key":"secret-k2","Password":"secret-k3",
             "destination":{"writeKey":"secret-k4","batchSize":50,"servers":[{"accessToken":"secret-k5","host":"a.example"}]},
             "auth":{"client_secret":"secret-k6"},"flags":[true,null,1.5]}
            """
        let header = Data(settings.utf8).base64EncodedString()
        let url = harness.databaseURL
        @Sendable func stored() throws -> String? {
            try TestDatabase.connect(url).query("SELECT segment_settings::text FROM inlet.tenants WHERE id = $1", tenant)
                .first?.decode(String?.self, at: 0)
        }
        try await harness.run { client async throws in
            #expect(try await client.post("/", json: Messages.track(), token: token, headers: [("X-Segment-Settings", header)]).status == 200)
            #expect(try await eventually { try stored() != nil })
        }
        let json = try #require(try stored())
        for secret in secrets { #expect(!json.contains(secret), "\(json)") }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["region", "destination", "flags"])
        #expect(object["region"] as? String == "eu")
        let destination = try #require(object["destination"] as? [String: Any])
        #expect(Set(destination.keys) == ["batchSize", "servers"])
        #expect(destination["batchSize"] as? Int == 50)
        #expect((destination["servers"] as? [[String: Any]])?.first?["host"] as? String == "a.example")
        #expect((destination["servers"] as? [[String: Any]])?.first?["accessToken"] == nil)
        #expect((object["flags"] as? [Any])?.count == 3)
    }
}
