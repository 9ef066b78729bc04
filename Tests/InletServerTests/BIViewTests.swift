import Foundation
import InletServer
import InletTestSupport
import NIOHTTP1
import PostgresClient
import Synchronization
import Testing

/// The tenants' BI schemas: views shaped like a Segment warehouse source, generated from the
/// fields discovered in real traffic sent over HTTP.
@Suite struct BIViewTests {
    /// A track with typed, nested and clobbering properties and a full Segment context.
    static let orderCompleted = #"""
        {"type":"track","messageId":"oc-1","userId":"u-1","anonymousId":"a-1","event":"Order Completed",
         "timestamp":"2026-11-30T10:00:00Z",
         "properties":{"revenue":42.5,"coupon":"WINTER","paid":true,"placed_at":"2026-11-30T09:59:00Z",
            "items":[{"sku":"m-1"}],"product":{"name":"Mug","price":12},"orderId":"o-77",
            "id":"not-the-message-id","user_id":"not-the-user"},
         "context":{"ip":"203.0.113.9","userAgent":"Mozilla/5.0","locale":"en-GB",
            "library":{"name":"analytics.js","version":"5.2.0"},
            "page":{"url":"https://shop.example/checkout","path":"/checkout","title":"Checkout","referrer":"https://ads.example/","search":"?q=1"},
            "campaign":{"source":"newsletter","medium":"email","name":"winter"},
            "app":{"version":"3.1"},"device":{"type":"ios","adTrackingEnabled":false},"os":{"name":"iOS","version":"17.1"},
            "traits":{"email":"u1@example.com"},"experiment":{"arm":"B"}}}
        """#

    static let page = #"""
        {"type":"page","messageId":"pg-1","anonymousId":"a-1","name":"Checkout","category":"Shop",
         "properties":{"url":"https://shop.example/checkout","path":"/checkout","title":"Checkout","section":"cart","depth":3},
         "context":{"ip":"203.0.113.9"}}
        """#

    static let identify = #"""
        {"type":"identify","messageId":"id-1","userId":"u-1","anonymousId":"a-1",
         "traits":{"email":"u1@example.com","plan":"pro","address":{"city":"Leeds"},"logins":4,"createdAt":"2026-01-02T03:04:05Z"}}
        """#

    static let group = #"{"type":"group","messageId":"gr-1","userId":"u-1","groupId":"g-1","traits":{"name":"Acme","employees":12}}"#
    static let screen = #"{"type":"screen","messageId":"sc-1","userId":"u-1","name":"Home","properties":{"tab":"feed"}}"#
    static let alias = #"{"type":"alias","messageId":"al-1","userId":"u-1","previousId":"a-1"}"#

    func columns(_ connection: Connection, _ schema: String, _ view: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for row in try connection.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2", schema, view
        ).rows {
            result[try row.decode(at: 0)] = try row.decode(at: 1)
        }
        return result
    }

    func value(_ connection: Connection, _ sql: String) throws -> String? {
        try connection.query(sql).first?.decode(String?.self, at: 0)
    }

    @Test func viewsCarryFlattenedContextAndTypedPropertiesOfOneTenantOnly() async throws {
        let harness = try IngestHarness("bi_views")
        let acme = try harness.tenant("Acme Corp")
        let other = try harness.tenant("Other")
        try await harness.run { client async throws in
            let messages = [Self.orderCompleted, Self.page, Self.identify, Self.group, Self.screen, Self.alias]
            #expect(try await client.post("/", json: Messages.array(messages), token: acme.token).status == 200)
            let theirs = messages.map { $0.replacing("\"u-1\"", with: "\"them\"").replacing("-1\"", with: "-9\"") }
            #expect(try await client.post("/", json: Messages.array(theirs), token: other.token).status == 200)
        }
        let connection = try harness.connect()
        let report = try #require(try BIRefresh(connection: connection).refresh(tenantID: acme.id))
        #expect(report.schema == "acme_corp")
        #expect(report.failed.isEmpty)
        #expect(report.created == 9)  // eight standard views and order_completed

        // Segment's context columns, from camelCase keys; discovered ones too.
        let tracks = try columns(connection, "acme_corp", "tracks")
        for name in ["id", "anonymous_id", "user_id", "timestamp", "original_timestamp", "sent_at", "received_at", "loaded_at",
            "uuid_ts", "event", "event_text", "context_ip", "context_library_name", "context_library_version", "context_page_url",
            "context_page_path", "context_page_title", "context_page_referrer", "context_page_search", "context_user_agent",
            "context_locale", "context_campaign_source", "context_campaign_medium", "context_campaign_name", "context_campaign_term",
            "context_campaign_content", "context_app_version", "context_device_type", "context_os_name", "context_os_version",
            "context_traits_email", "context_experiment_arm"]
        {
            #expect(tracks[name] != nil, "tracks lacks \(name)")
        }
        #expect(tracks["context_device_ad_tracking_enabled"] == "boolean")
        #expect(try value(connection, "SELECT context_user_agent || ' ' || context_page_url || ' ' || context_experiment_arm FROM acme_corp.tracks")
            == "Mozilla/5.0 https://shop.example/checkout B")

        // The event's own view: typed properties, nested keys joined, reserved names kept.
        let order = try columns(connection, "acme_corp", "order_completed")
        #expect(order["revenue"] == "numeric")
        #expect(order["paid"] == "boolean")
        #expect(order["placed_at"] == "timestamp with time zone")
        #expect(order["items"] == "jsonb")
        #expect(order["product_name"] == "text")
        #expect(order["product_price"] == "numeric")
        #expect(order["order_id"] == "text")
        #expect(order["context_ip"] == "text")
        let row = try #require(
            try connection.query(
                """
                SELECT id, user_id, revenue::text, paid::text, placed_at = '2026-11-30T09:59:00Z', product_name, items::text, event_text
                FROM acme_corp.order_completed
                """
            ).first)
        #expect(try row.decode(String.self, at: 0) == "oc-1")
        #expect(try row.decode(String.self, at: 1) == "u-1")
        #expect(try row.decode(String.self, at: 2) == "42.5")
        #expect(try row.decode(String.self, at: 3) == "true")
        #expect(try row.decode(Bool.self, at: 4))
        #expect(try row.decode(String.self, at: 5) == "Mug")
        #expect(try row.decode(String.self, at: 6) == #"[{"sku": "m-1"}]"#)
        #expect(try row.decode(String.self, at: 7) == "Order Completed")

        // Pages and screens carry their properties, identifies and users their traits.
        let pages = try columns(connection, "acme_corp", "pages")
        for name in ["name", "category", "url", "path", "title", "referrer", "search", "section", "depth"] {
            #expect(pages[name] != nil, "pages lacks \(name)")
        }
        #expect(try value(connection, "SELECT section || depth FROM acme_corp.pages") == "cart3")
        #expect(try value(connection, "SELECT tab FROM acme_corp.screens") == "feed")
        #expect(try value(connection, "SELECT email || ' ' || plan || ' ' || address_city || ' ' || logins FROM acme_corp.identifies")
            == "u1@example.com pro Leeds 4")
        #expect(try columns(connection, "acme_corp", "identifies")["created_at"] == "timestamp with time zone")
        #expect(try value(connection, "SELECT id || ' ' || email || ' ' || plan FROM acme_corp.users") == "u-1 u1@example.com pro")
        #expect(try value(connection, "SELECT id || ' ' || name || ' ' || employees FROM acme_corp.accounts") == "g-1 Acme 12")
        #expect(try value(connection, "SELECT previous_id FROM acme_corp.aliases") == "a-1")
        #expect(try value(connection, "SELECT group_id FROM acme_corp.groups") == "g-1")

        // Only this tenant's rows, in every view.
        for view in WarehouseViews.standardViews + ["order_completed"] {
            #expect(try connection.query("SELECT count(*) FROM acme_corp.\(view)").first?.decode(Int.self, at: 0) == 1, "\(view)")
        }
        #expect(try value(connection, "SELECT string_agg(DISTINCT user_id, ',') FROM acme_corp.tracks") == "u-1")
    }

    @Test func newEventsAndFieldsAreAppendedAndUnchangedViewsLeftAlone() async throws {
        let harness = try IngestHarness("bi_append")
        let tenant = try harness.tenant("Append")
        try await harness.run { client async throws in
            #expect(try await client.post("/", json: Self.orderCompleted, token: tenant.token).status == 200)
        }
        let connection = try harness.connect()
        let refresh = BIRefresh(connection: connection)
        _ = try refresh.refresh(tenantID: tenant.id)
        // An analyst's own view on ours: replacing ours must keep it working.
        try connection.execute("CREATE VIEW public.revenue_by_coupon AS SELECT coupon, sum(revenue) AS revenue FROM append.order_completed GROUP BY coupon")
        let again = try #require(try refresh.refresh(tenantID: tenant.id))
        #expect(again.created == 0 && again.replaced == 0 && again.newFields == 0)

        try await harness.run { client async throws in
            let more = #"""
                [{"type":"track","messageId":"oc-2","userId":"u-2","event":"Order Completed","properties":{"revenue":"oops","discount":5}},
                 {"type":"track","messageId":"cv-1","userId":"u-2","event":"Cart Viewed","properties":{"items":2}}]
                """#
            #expect(try await client.post("/", json: more, token: tenant.token).status == 200)
        }
        let third = try #require(try refresh.refresh(tenantID: tenant.id))
        #expect(third.newEvents == 1)
        #expect(third.created == 1)  // cart_viewed
        #expect(third.replaced == 1)  // order_completed, with discount appended
        #expect(third.busy.isEmpty && third.failed.isEmpty)
        let order = try columns(connection, "append", "order_completed")
        #expect(order["discount"] == "numeric")
        #expect(order["revenue"] == "numeric")  // the first kind stays; "oops" reads as NULL
        #expect(try value(connection, "SELECT count(revenue)::text || '/' || count(*) FROM append.order_completed") == "1/2")
        #expect(try value(connection, "SELECT revenue::text FROM public.revenue_by_coupon WHERE coupon = 'WINTER'") == "42.5")
        #expect(try value(connection, "SELECT items::text FROM append.cart_viewed") == "2")
    }

    @Test func aViewHeldByAReaderIsSkippedWithoutStallingAnyone() async throws {
        let harness = try IngestHarness("bi_busy")
        let tenant = try harness.tenant("Busy")
        let connection = try harness.connect()
        _ = try BIRefresh(connection: connection).refresh(tenantID: tenant.id)
        try await harness.run { client async throws in
            #expect(try await client.post("/", json: Self.orderCompleted, token: tenant.token).status == 200)
            // An analyst's open transaction on the tracks view.
            let analyst = try harness.connect()
            try analyst.execute("BEGIN; SELECT count(*) FROM busy.tracks")
            let started = ContinuousClock.now
            let report = try #require(try BIRefresh(connection: try harness.connect()).refresh(tenantID: tenant.id))
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(report.busy == ["tracks"])
            #expect(report.created == 1)  // order_completed is new and nobody holds it
            // Ingestion goes on meanwhile, and the analyst's reads too.
            #expect(try await client.post("/", json: Messages.track(event: "Order Completed"), token: tenant.token).status == 200)
            try analyst.execute("COMMIT")
            let retried = try #require(try BIRefresh(connection: try harness.connect()).refresh(tenantID: tenant.id))
            // tracks now, and order_completed for the properties the second track brought.
            #expect(retried.busy.isEmpty && retried.replaced == 2)
        }
        #expect(try columns(connection, "busy", "tracks")["context_experiment_arm"] == "text")
    }

    @Test func rowsCommittedLateByAnOpenTransactionAreStillDiscovered() async throws {
        let harness = try IngestHarness("bi_late")
        let tenant = try harness.tenant("Late")
        let connection = try harness.connect()
        // A writer of another role (a service role, or the server while an operator refreshes
        // as a superuser): its transaction opens (loaded_at is its start) and commits after a
        // refresh.
        let role = "late_writer_\(tenant.id)_\(UInt32.random(in: 0...UInt32.max))"
        try connection.execute("CREATE ROLE \(role) LOGIN BYPASSRLS; GRANT USAGE ON SCHEMA events TO \(role); GRANT INSERT ON events.tracks TO \(role)")
        var login = try #require(URLComponents(string: harness.databaseURL))
        login.user = role
        let writer = try TestDatabase.connect(try #require(login.string))
        try writer.execute("BEGIN")
        try writer.query(
            """
            INSERT INTO events.tracks (tenant_id, id, user_id, "timestamp", received_at, event, event_text, properties)
            VALUES ($1, 'late-1', 'u', now(), now(), 'late_event', 'Late Event', '{"slow": true}')
            """, tenant.id)
        let before = try #require(try BIRefresh(connection: connection).refresh(tenantID: tenant.id))
        #expect(before.newEvents == 0)
        try writer.execute("COMMIT")
        let after = try #require(try BIRefresh(connection: connection).refresh(tenantID: tenant.id))
        #expect(after.newEvents == 1)
        #expect(try columns(connection, "late", "late_event")["slow"] == "boolean")
    }

    @Test func oddValuesReadAsNullNeverAsAnError() async throws {
        let harness = try IngestHarness("bi_odd")
        let tenant = try harness.tenant("Odd")
        let url = harness.databaseURL
        try await harness.run { client async throws in
            let first = #"""
                [{"type":"track","messageId":"t-1","userId":"u","event":"Odd","properties":{"at":"2026-11-30T10:00:00","n":1,"note":"2024-01-01 10:00 meeting"}},
                 {"type":"track","messageId":"t-2","userId":"u","event":"Odd","properties":{"at":"2026-11-30T12:00:00+02:00","n":"x"}}]
                """#
            #expect(try await client.post("/", json: first, token: tenant.token).status == 200)
            _ = try BIRefresh(connection: try TestDatabase.connect(url)).refresh(tenantID: tenant.id)
            // Later values of another kind, in a column whose type is settled.
            let later = #"""
                [{"type":"track","messageId":"t-3","userId":"u","event":"Odd","properties":{"at":"2026-02-30T10:00:00Z","n":null}},
                 {"type":"track","messageId":"t-4","userId":"u","event":"Odd","properties":{"at":{"nested":1},"n":2.5}}]
                """#
            #expect(try await client.post("/", json: later, token: tenant.token).status == 200)
        }
        let connection = try harness.connect()
        _ = try BIRefresh(connection: connection).refresh(tenantID: tenant.id)
        // "n" was seen as a number and as text in one scan: text, which shows both. A string
        // that starts like a timestamp but is not one is text.
        let odd = try columns(connection, "odd", "odd")
        #expect(odd["n"] == "text")
        #expect(odd["note"] == "text")
        #expect(odd["at"] == "timestamp with time zone")
        #expect(odd["at_nested"] == "numeric")
        #expect(try value(connection, "SELECT string_agg(coalesce(n, '-'), ',' ORDER BY id) FROM odd.odd") == "1,x,-,2.5")
        // Without an offset it is UTC whatever the reader's TimeZone; an impossible date or an
        // object is NULL, never an error; also in a parallel plan, which large months get.
        try connection.execute("SET TimeZone = 'America/New_York'")
        try? connection.execute("SET debug_parallel_query = on")  // PostgreSQL 16 and later
        try? connection.execute("SET force_parallel_mode = on")  // PostgreSQL 15
        let plan = try connection.query("EXPLAIN SELECT at FROM odd.odd").rows.map { try $0.decode(String.self, at: 0) }.joined()
        #expect(plan.contains("Gather"), "\(plan)")
        #expect(
            try value(connection, "SELECT string_agg(coalesce((at AT TIME ZONE 'UTC')::text, '-'), ',' ORDER BY id) FROM odd.odd")
                == "2026-11-30 10:00:00,2026-11-30 10:00:00,-,-")
    }

    @Test func hostileKeysAndEventNamesAreOnlyNames() async throws {
        let harness = try IngestHarness("bi_hostile")
        let tenant = try harness.tenant("Hostile")
        try await harness.run { client async throws in
            let message = #"""
                {"type":"track","messageId":"h-1","userId":"u","event":"x'); DROP TABLE events.tracks; --",
                 "properties":{"a'); DROP TABLE events.users; --":1,"quote\"d":2,"back\\slash'":3,"Été déjà":4,"":5,
                    "x'\u0301]::text[]) AS pwn FROM events.tracks t; CREATE TABLE public.pwned_a AS SELECT 1; --":6,
                    "x\u0600']::text[]) AS pwn FROM events.tracks t; CREATE TABLE public.pwned_b AS SELECT 1; --":7}}
                """#
            #expect(try await client.post("/", json: message, token: tenant.token).status == 200)
        }
        let connection = try harness.connect()
        let report = try #require(try BIRefresh(connection: connection).refresh(tenantID: tenant.id))
        #expect(report.failed.isEmpty, "\(report.failed)")
        let view = "x_drop_table_events_tracks"
        let hostile = try columns(connection, "hostile", view)
        for name in ["a_drop_table_events_users", "quote_d", "back_slash", "été_déjà", "_"] {
            #expect(hostile[name] == "numeric", "\(name) in \(hostile.keys.sorted())")
        }
        #expect(try value(connection, "SELECT a_drop_table_events_users + quote_d + back_slash + \"été_déjà\" + \"_\" FROM hostile.\(view)") == "15")
        #expect(try connection.query("SELECT count(*) FROM events.users").first != nil)
        // A quote that Swift sees inside one character with its neighbour (a combining accent
        // after it, a prepended mark before it) is still doubled: nothing else ran.
        #expect(try value(connection, "SELECT to_regclass('public.pwned_a')::text || to_regclass('public.pwned_b')::text") == nil)
        #expect(try connection.query("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'hostile' AND table_name = '\(view)' AND column_name LIKE 'x%'").first?.decode(Int.self, at: 0) == 2)
    }

    @Test func theServersPassDiscoversForEveryTenantInOneScan() async throws {
        let harness = try IngestHarness("bi_pass")
        let first = try harness.tenant("First")
        let second = try harness.tenant("Second")
        let connection = try harness.connect()
        try await harness.run { client async throws in
            #expect(try await client.post("/", json: Messages.track(event: "Alpha"), token: first.token).status == 200)
        }
        let one = try BIRefresh(connection: connection).refreshAll()
        #expect(one.map(\.newEvents) == [1, 0])
        // Now both have scan positions (one of them older); new traffic for both, and a third
        // tenant that has never been scanned.
        let third = try harness.tenant("Third")
        try await harness.run { client async throws in
            #expect(try await client.post("/", json: Messages.track(event: "Beta"), token: first.token).status == 200)
            #expect(try await client.post("/", json: Messages.track(event: "Gamma"), token: second.token).status == 200)
            #expect(try await client.post("/", json: Messages.track(event: "Delta"), token: third.token).status == 200)
        }
        let two = try BIRefresh(connection: connection).refreshAll()
        #expect(two.map(\.newEvents) == [1, 1, 1])
        #expect(two.allSatisfy { $0.failed.isEmpty })
        for (schema, view) in [("first", "beta"), ("second", "gamma"), ("third", "delta")] {
            #expect(try columns(connection, schema, view)["plan"] == "text", "\(schema).\(view)")
        }
        #expect(try columns(connection, "second", "beta").isEmpty)
    }

    @Test func schemaNamesAreDerivedUniqueAndChecked() throws {
        let url = try TestDatabase.createMigrated("bi_names")
        let store = TenantStore(connection: try TestDatabase.connect(url))
        #expect(try store.create(name: "Acme Corp").0.biSchema == "acme_corp")
        let second = try store.create(name: "ACME corp!").0
        #expect(second.biSchema == "acme_corp_\(second.id)")
        #expect(try store.create(name: "42 Go").0.biSchema == "tenant_42_go")
        #expect(try store.create(name: "Events").0.biSchema == "tenant_events")
        let japanese = try store.create(name: "日本").0
        #expect(japanese.biSchema == "tenant_\(japanese.id)")
        #expect(try store.create(name: "Custom", biSchema: "custom_bi").0.biSchema == "custom_bi")
        for bad in ["Bad-Name", "1abc", "pg_mine", "inlet", "public", "custom_bi", "information_schema"] {
            #expect(throws: TenantError.self, "\(bad)") { try store.create(name: "x", biSchema: bad) }
        }
        // A schema someone else made in the database is not taken over.
        let connection = try TestDatabase.connect(url)
        try connection.execute("CREATE SCHEMA analytics")
        #expect(throws: TenantError.self) { try store.create(name: "x", biSchema: "analytics") }
        let derived = try store.create(name: "Analytics").0
        #expect(derived.biSchema == "analytics_\(derived.id)")
    }

    @Test func theServerRefreshesPeriodically() async throws {
        var harness = try IngestHarness("bi_periodic")
        harness.configuration.biRefreshInterval = .milliseconds(300)
        let tenant = try harness.tenant("Periodic")
        let url = harness.databaseURL
        try await harness.run { client async throws in
            let connection = try TestDatabase.connect(url)
            #expect(try await client.post("/", json: Messages.track(event: "Trial Started"), token: tenant.token).status == 200)
            #expect(try await eventually(.seconds(20)) { try columns(connection, "periodic", "trial_started")["plan"] == "text" })
        }
    }
}

/// The BI commands as an operator runs them.
@Suite struct BICommandTests {
    @Test func createRefreshAndShowFromTheCommandLine() throws {
        let url = try TestDatabase.createMigrated("bi_cli")
        let env = ["DATABASE_URL": url]
        let created = try BuiltProducts.run("inlet", ["tenant", "create", "Cli Co", "--bi-schema", "cli_data", "--json"], environment: env)
        #expect(created.status == 0, "\(created.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any])
        #expect(object["bi_schema"] as? String == "cli_data")
        let id = try #require(object["id"] as? Int)
        // Created with its (empty) views, so a BI tool can connect before any data comes.
        let connection = try TestDatabase.connect(url)
        #expect(try connection.query("SELECT count(*) FROM cli_data.tracks").first?.decode(Int.self, at: 0) == 0)

        let refreshed = try BuiltProducts.run("inlet", ["bi", "refresh", String(id)], environment: env)
        #expect(refreshed.status == 0, "\(refreshed.error)")
        #expect(refreshed.output.contains("tenant \(id) (cli_data): 8 views, 0 created, 0 replaced"), "\(refreshed.output)")
        let all = try BuiltProducts.run("inlet", ["bi", "refresh", "--json"], environment: env)
        #expect(all.output.contains(#""schema":"cli_data""#), "\(all.output)")
        let shown = try BuiltProducts.run("inlet", ["tenant", "show", String(id)], environment: env)
        #expect(shown.output.contains("BI schema     cli_data (views refreshed 20"), "\(shown.output)")

        let refused = try BuiltProducts.run("inlet", ["tenant", "create", "Again", "--bi-schema", "cli_data"], environment: env)
        #expect(refused.status != 0)
        #expect(refused.error.contains("belongs to another tenant"), "\(refused.error)")
        #expect(try BuiltProducts.run("inlet", ["bi", "refresh", "999999"], environment: env).status != 0)
    }
}

@Suite struct BIAdminTests {
    @Test func theAdminAPICreatesATenantWithItsSchemaAndViews() async throws {
        var harness = try IngestHarness("bi_admin")
        harness.configuration.adminToken = "bi-admin-token"
        let url = harness.databaseURL
        try await harness.run { client async throws in
            let admin = [("Authorization", "Bearer bi-admin-token")]
            let created = try await client.send(.POST, "/admin/tenants", headers: admin, body: #"{"name":"Api Co","bi_schema":"api_data"}"#)
            #expect(created.status == 201, "\(created.body)")
            #expect(created.json["bi_schema"] as? String == "api_data")
            #expect(try TestDatabase.connect(url).query("SELECT count(*) FROM api_data.users").first?.decode(Int.self, at: 0) == 0)
            let derived = try await client.send(.POST, "/admin/tenants", headers: admin, body: #"{"name":"Derived Name"}"#)
            #expect(derived.json["bi_schema"] as? String == "derived_name")
            let shown = try await client.get("/admin/tenants/\(try #require(created.json["id"] as? Int))", headers: admin)
            #expect(shown.body.contains(#""biSchema":"api_data""#), "\(shown.body)")
            for bad in ["Not-Valid", "api_data", "inlet"] {
                let refused = try await client.send(.POST, "/admin/tenants", headers: admin, body: #"{"name":"x","bi_schema":"\#(bad)"}"#)
                #expect(refused.status == 400, "\(bad): \(refused.body)")
            }
        }
    }
}

@Suite struct BIRefreshShutdownTests {
    @Test func aRefreshWaitingOnALockDoesNotHoldUpTheShutdown() async throws {
        var harness = try IngestHarness("bi_shutdown")
        harness.configuration.biRefreshInterval = .milliseconds(100)
        let tenant = try harness.tenant("Shutdown")
        // An operator's exclusive lock on an old month (say, a VACUUM FULL of 2019-03): the first
        // scan, month by month from the oldest, waits there (up to its lock_timeout of 30 s) when
        // the server is told to stop. Writers never touch that month.
        let operator_ = try harness.connect()
        try operator_.query("SELECT inlet.ensure_month_partitions('2019-03-15')")
        try operator_.execute("BEGIN; LOCK TABLE events.tracks_y2019m03 IN ACCESS EXCLUSIVE MODE")
        let url = harness.databaseURL
        let logs = CollectedLogs()
        let stopping = try await harness.run(logger: logs.logger) { client async throws -> ContinuousClock.Instant in
            _ = tenant
            // Let a pass start and reach the locked table.
            let observer = try TestDatabase.connect(url)
            let waiting = try await eventually(.seconds(10)) {
                try observer.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'inlet-bi-refresh' AND wait_event_type = 'Lock'"
                ).first?.decode(Int.self, at: 0) == 1
            }
            #expect(waiting, "the refresh never waited on the locked month")
            return ContinuousClock.now
        }
        // Cancelled, not waited out: within the 30 s lock_timeout (the whole suite on two cores
        // made the rest of the shutdown take up to 19 s), and said so.
        #expect(ContinuousClock.now - stopping < .seconds(28))
        #expect(logs.lines.withLock { $0.contains { $0.contains("BI refresh stopped for shutdown") } })
        try operator_.execute("ROLLBACK")
    }
}
