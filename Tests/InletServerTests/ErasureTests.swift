import Foundation
import InletMessages
import InletServer
import InletTestSupport
import NIOHTTP1
import PostgresClient
import Synchronization
import Testing

/// Erasure (issue 12, item 3): a `delete` message, `inlet tenant erase-user` and the admin API
/// remove every row of a user, and no other, across restarts and while ingestion goes on.
@Suite struct ErasureTests {
    static let adminToken = "admin-secret-\(UUID().uuidString)"

    static func harness(_ label: String) throws -> IngestHarness {
        var harness = try IngestHarness(label)
        harness.configuration.erasure.interval = .milliseconds(200)
        harness.configuration.adminToken = adminToken
        return harness
    }

    /// One user's messages of every type, in three months (two replayed, the current one).
    static func traffic(user: String, anonymous: String) -> [String] {
        func message(_ type: String, _ members: String, at time: String?) -> String {
            let timestamp = time.map { #","timestamp":"\#($0)""# } ?? ""
            return #"{"type":"\#(type)","messageId":"\#(UUID().uuidString)"\#(timestamp),\#(members)}"#
        }
        let person = #""userId":"\#(user)","anonymousId":"\#(anonymous)""#
        return ["2025-01-15T10:00:00Z", "2025-06-15T10:00:00Z", nil].flatMap { time in
            [
                message("track", #"\#(person),"event":"Order Completed","properties":{"total":9}"#, at: time),
                message("identify", #"\#(person),"traits":{"email":"\#(user)@example.com"}"#, at: time),
                message("page", #"\#(person),"name":"Home""#, at: time),
                message("screen", #"\#(person),"name":"Feed""#, at: time),
                message("group", #"\#(person),"groupId":"g-\#(user)""#, at: time),
                message("alias", #""userId":"\#(user)","previousId":"\#(anonymous)""#, at: time),
                // Before they logged in: only the anonymous id, found through their identifies.
                message("track", #""anonymousId":"\#(anonymous)","event":"Viewed""#, at: time),
            ]
        }
    }

    /// The user's rows in every message table of `tenant`.
    static func rows(_ db: Connection, tenant: Int64, user: String, anonymous: String) throws -> Int {
        try EventTable.allCases.reduce(0) { total, table in
            total
                + (try db.count(
                    "events.\(table.name)", tenant: tenant,
                    where: "(user_id = '\(user)' OR (anonymous_id = '\(anonymous)' AND user_id IS NULL))"))
        }
    }

    static func months(_ db: Connection, tenant: Int64, user: String) throws -> Int {
        try db.query(
            "SELECT count(DISTINCT date_trunc('month', \"timestamp\")) FROM events.tracks WHERE tenant_id = $1 AND user_id = $2", tenant, user
        ).first?.decode(Int.self, at: 0) ?? 0
    }

    static func request(_ db: Connection, tenant: Int64) throws -> ErasureRequest? {
        try ErasureRequestStore(connection: db).list(tenant: tenant).first
    }

    /// A snapshot of what must survive: another user's rows (one sharing the victim's device),
    /// the same user id in another tenant, their profiles and quarantined messages.
    struct Survivors: Equatable {
        var bystander: Int
        var sharedDevice: Int
        var otherTenant: Int
        var profiles: Int
        var quarantined: Int

        init(_ db: Connection, tenant: Int64, other: Int64) throws {
            bystander = try ErasureTests.rows(db, tenant: tenant, user: "bystander", anonymous: "anon-b")
            sharedDevice = try db.count("events.tracks", tenant: tenant, where: "user_id = 'bystander' AND anonymous_id = 'anon-v'")
            otherTenant = try ErasureTests.rows(db, tenant: other, user: "victim", anonymous: "anon-v")
            profiles = try db.count("events.users", tenant: tenant, where: "id = 'bystander'") + (try db.count("events.users", tenant: other))
            quarantined = try db.count("inlet.rejected_messages", tenant: tenant, where: "message_id = 'q-bystander'")
                + (try db.count("inlet.rejected_messages", tenant: other))
        }
    }

    /// Sends the traffic of the victim, a bystander and the victim's namesake in another tenant.
    static func sendTraffic(_ client: IngestHarness.Client, tenant: String, other: String) async throws {
        let quarantined = [
            #"{"type":"track","userId":"victim","messageId":"q-victim"}"#,
            #"{"type":"track","anonymousId":"anon-v","messageId":"q-victim-anonymous"}"#,
            #"{"type":"track","userId":"bystander","messageId":"q-bystander"}"#,
        ]
        let shared = #"{"type":"track","messageId":"\#(UUID().uuidString)","userId":"bystander","anonymousId":"anon-v","event":"Shared"}"#
        let body = traffic(user: "victim", anonymous: "anon-v") + traffic(user: "bystander", anonymous: "anon-b") + [shared] + quarantined
        let answer = try await client.post("/", json: Messages.array(body), token: tenant)
        #expect(answer.status == 200, "\(answer.body)")
        #expect((answer.json["rejected"] as? [Any])?.count == 3)
        let namesake = try await client.post(
            "/", json: Messages.array(traffic(user: "victim", anonymous: "anon-v") + [quarantined[0]]), token: other)
        #expect(namesake.status == 200, "\(namesake.body)")
    }

    /// A server's database with the traffic of ``sendTraffic(_:tenant:other:)`` stored: tenant
    /// `a` holds the victim and the bystander, `b` the victim's namesake.
    struct Scene {
        let harness: IngestHarness
        let a: (id: Int64, token: String)
        let b: (id: Int64, token: String)
        let db: Connection
        let before: Survivors
        let victimRows: Int

        init(_ label: String) async throws {
            harness = try ErasureTests.harness(label)
            (a, b) = (try harness.tenant("a"), try harness.tenant("b"))
            db = try harness.connect()
            let (a, b) = (a, b)
            try await harness.run { client in try await ErasureTests.sendTraffic(client, tenant: a.token, other: b.token) }
            before = try Survivors(db, tenant: a.id, other: b.id)
            victimRows = try ErasureTests.rows(db, tenant: a.id, user: "victim", anonymous: "anon-v")
        }
    }

    @Test func aDeleteMessageErasesEveryRowOfTheUserAndNoOther() async throws {
        let scene = try await Scene("erase_message")
        let (harness, a, b, db, before, victimRows) = (scene.harness, scene.a, scene.b, scene.db, scene.before, scene.victimRows)
        #expect(victimRows == 21)
        #expect(try Self.months(db, tenant: a.id, user: "victim") == 3)
        #expect(try db.count("events.users", tenant: a.id, where: "id = 'victim'") == 1)

        try await harness.run { client in
            let db = try harness.connect()
            let delete = try await client.post("/", json: #"{"type":"delete","userId":"victim","messageId":"delete-1"}"#, token: a.token)
            #expect(delete.status == 200, "\(delete.body)")
            #expect(try await eventually(.seconds(20)) { try Self.request(db, tenant: a.id)?.state == .done })
        }
        #expect(try Self.rows(db, tenant: a.id, user: "victim", anonymous: "anon-v") == 0)
        #expect(try db.count("events.users", tenant: a.id, where: "id = 'victim'") == 0)
        #expect(try db.count("inlet.rejected_messages", tenant: a.id, where: "message_id LIKE 'q-victim%'") == 0)
        #expect(try Survivors(db, tenant: a.id, other: b.id) == before)
        #expect(before.bystander == 22 && before.sharedDevice == 1 && before.otherTenant == 21 && before.quarantined == 2)

        let request = try #require(try Self.request(db, tenant: a.id))
        #expect(request.messageID == "delete-1" && request.source == .message)
        #expect(request.anonymousIDs == ["anon-v"])
        #expect(request.rowsDeleted == Int64(victimRows + 1 + 2), "rows, the profile, two quarantined messages")
        #expect(request.stepsDone == request.stepsTotal)
        #expect(request.finishedAt != nil && request.startedAt != nil)

        let list = try BuiltProducts.run("inlet", ["deletes", "list", "--tenant", String(a.id)], environment: ["DATABASE_URL": harness.databaseURL])
        #expect(list.status == 0, "\(list.error)")
        #expect(list.output.contains("done") && list.output.contains("victim") && list.output.contains("message"), "\(list.output)")
    }

    /// A pass stopped after its first table (as a server stopping would) leaves the request
    /// running with its cursor; the next server finishes it.
    @Test func anErasureStoppedMidwayIsFinishedByTheNextServer() async throws {
        let scene = try await Scene("erase_restart")
        let (harness, a, b, db, before, victimRows) = (scene.harness, scene.a, scene.b, scene.db, scene.before, scene.victimRows)

        // erase-user's library calls, stopped after one step.
        let recorded = try ErasureRequestStore(connection: db).record(tenant: a.id, userID: "victim", source: .cli)
        #expect(recorded.state == .pending && recorded.messageID.hasPrefix("cli-"))
        var steps = 0
        let partial = try ErasurePass(connection: db).run(tenant: a.id, shouldStop: { steps >= 1 }, progress: { _ in steps += 1 })
        #expect(partial.stepsDone == 1 && partial.finished == 0)
        let running = try #require(try Self.request(db, tenant: a.id))
        #expect(running.state == .running && running.stepsDone == 1, "\(running)")
        let left = try Self.rows(db, tenant: a.id, user: "victim", anonymous: "anon-v")
        #expect(left > 0 && left < victimRows, "\(left) of \(victimRows)")

        try await harness.run { _ in
            let db = try harness.connect()
            #expect(try await eventually(.seconds(20)) { try Self.request(db, tenant: a.id)?.state == .done })
        }
        #expect(try Self.rows(db, tenant: a.id, user: "victim", anonymous: "anon-v") == 0)
        #expect(try db.count("events.users", tenant: a.id, where: "id = 'victim'") == 0)
        #expect(try db.count("inlet.rejected_messages", tenant: a.id, where: "message_id LIKE 'q-victim%'") == 0)
        #expect(try Survivors(db, tenant: a.id, other: b.id) == before)
        let done = try #require(try Self.request(db, tenant: a.id))
        #expect(done.rowsDeleted == Int64(victimRows + 3), "each row counted once across the two passes")
    }

    /// A server shut down in the middle of an erasure (its pass waiting for a lock an analyst
    /// holds on one month) leaves the request running with its cursor; the next server, started
    /// once the lock is gone, finishes it.
    @Test func aServerStoppedInTheMiddleOfAnErasureLeavesItToTheNextServer() async throws {
        let scene = try await Scene("erase_server_restart")
        let (harness, a, b, db, before) = (scene.harness, scene.a, scene.b, scene.db, scene.before)
        let analyst = try harness.connect()
        try analyst.execute("BEGIN; LOCK TABLE events.tracks_y2025m06 IN SHARE MODE")
        let shutdownStarted = try await harness.run { client in
            let db = try harness.connect()
            let delete = try await client.post("/", json: #"{"type":"delete","userId":"victim","messageId":"delete-2"}"#, token: a.token)
            #expect(delete.status == 200, "\(delete.body)")
            // 2025-01's six tables and five of 2025-06's are done; the pass waits at tracks.
            #expect(try await eventually(.seconds(20)) { (try Self.request(db, tenant: a.id)?.stepsDone ?? 0) >= 11 })
            return ContinuousClock.now
        }
        // The waiting step was cancelled, not waited for (its lock_timeout is 5 s).
        let shutdown = ContinuousClock.now - shutdownStarted
        #expect(shutdown < .seconds(3), "shutdown took \(shutdown)")
        try analyst.execute("COMMIT")
        let stopped = try #require(try Self.request(db, tenant: a.id))
        #expect(stopped.state == .running && stopped.stepsDone == 11, "\(stopped)")
        #expect(try Self.rows(db, tenant: a.id, user: "victim", anonymous: "anon-v") > 0)

        try await harness.run { _ in
            let db = try harness.connect()
            #expect(try await eventually(.seconds(20)) { try Self.request(db, tenant: a.id)?.state == .done })
        }
        #expect(try Self.rows(db, tenant: a.id, user: "victim", anonymous: "anon-v") == 0)
        #expect(try Survivors(db, tenant: a.id, other: b.id) == before)
    }

    /// Two requests of a tenant are carried out in one read of its rows, each counting its own
    /// rows; a quarantined message that is not even UTF-8 goes when it names the user.
    @Test func aPassCombinesATenantsRequestsAndCountsEachOnesRows() async throws {
        let scene = try await Scene("erase_combined")
        let (a, b, db, before, victimRows) = (scene.a, scene.b, scene.db, scene.before, scene.victimRows)
        try db.query(
            "INSERT INTO inlet.rejected_messages (tenant_id, reason, raw_message) VALUES ($1, 'not JSON', $2), ($1, 'not JSON', $3)",
            a.id, ByteaValue([0xFF] + Array(#"{"userId":"victim","#.utf8)), ByteaValue([0xFF] + Array(#"{"userId":"victimless","#.utf8)))
        let store = ErasureRequestStore(connection: db)
        let victim = try store.record(tenant: a.id, userID: "victim", source: .cli)
        let bystander = try store.record(tenant: a.id, userID: "bystander", source: .cli)
        let outcome = try ErasurePass(connection: db).run(tenant: a.id)
        #expect(outcome.finished == 2)
        #expect(try store.find(tenant: a.id, messageID: victim.messageID)?.rowsDeleted == Int64(victimRows + 1 + 3))
        #expect(try store.find(tenant: a.id, messageID: bystander.messageID)?.rowsDeleted == Int64(before.bystander + 1 + 1))
        #expect(outcome.rowsDeleted == Int64(victimRows + before.bystander + 6))
        #expect(try db.query("SELECT count(*) FROM inlet.rejected_messages WHERE tenant_id = $1", a.id).first?.decode(Int.self, at: 0) == 1)
        #expect(try Self.rows(db, tenant: a.id, user: "victim", anonymous: "anon-v") == 0)
        #expect(try Self.rows(db, tenant: a.id, user: "bystander", anonymous: "anon-b") == 0)
        #expect(try Survivors(db, tenant: a.id, other: b.id).otherTenant == before.otherTenant)
    }

    /// A row of the user stored behind the pass (a redelivery into a month already done, a
    /// profile upserted again) is swept before the request is finished, and so is a month
    /// attached during the pass.
    @Test func rowsStoredBehindThePassAreSweptBeforeItFinishes() async throws {
        let scene = try await Scene("erase_behind")
        let (a, db) = (scene.a, scene.db)
        let store = ErasureRequestStore(connection: db)
        let victim = try store.record(tenant: a.id, userID: "victim", source: .cli)
        let writer = try scene.harness.connect()
        var behind = false
        let outcome = try ErasurePass(connection: db).run(tenant: a.id, progress: { progress in
            guard !behind, progress.lastStep?.hasPrefix("events.tracks_") == true else { return }
            behind = true
            // As a writer would, behind the pass: a redelivery, a profile, and a month of 2015.
            _ = try? writer.query(
                """
                INSERT INTO events.tracks (tenant_id, id, user_id, "timestamp", received_at, event, event_text)
                VALUES ($1, 'redelivered', 'victim', now(), now(), 'x', 'x')
                """, a.id)
            _ = try? writer.query(
                "INSERT INTO events.users (tenant_id, id, first_seen_at, last_seen_at) VALUES ($1, 'victim', now(), now()) ON CONFLICT DO NOTHING", a.id)
            _ = try? writer.query("SELECT inlet.ensure_month_partitions('2015-06-01')")
            _ = try? writer.query(
                """
                INSERT INTO events.tracks (tenant_id, id, user_id, "timestamp", received_at, event, event_text)
                VALUES ($1, 'old-month', 'victim', '2015-06-02', now(), 'x', 'x')
                """, a.id)
        })
        #expect(behind)
        #expect(outcome.finished == 1)
        #expect(try store.find(tenant: a.id, messageID: victim.messageID)?.state == .done)
        #expect(try Self.rows(db, tenant: a.id, user: "victim", anonymous: "anon-v") == 0)
        #expect(try db.query("SELECT count(*) FROM events.users WHERE tenant_id = $1 AND id = 'victim'", a.id).first?.decode(Int.self, at: 0) == 0)
    }

    /// `inlet tenant erase-user` carries the request out in the foreground; `--no-wait` only
    /// records it.
    @Test func eraseUserErasesInTheForegroundOrLeavesItToTheServer() async throws {
        let scene = try await Scene("erase_cli")
        let (harness, a, b, db, before) = (scene.harness, scene.a, scene.b, scene.db, scene.before)
        let environment = ["DATABASE_URL": harness.databaseURL]

        let later = try BuiltProducts.run("inlet", ["tenant", "erase-user", String(a.id), "bystander", "--no-wait"], environment: environment)
        #expect(later.status == 0, "\(later.error)")
        #expect(later.output.contains("recorded"), "\(later.output)")
        #expect(try Self.rows(db, tenant: a.id, user: "bystander", anonymous: "anon-b") == before.bystander)
        try db.query("DELETE FROM inlet.delete_requests WHERE tenant_id = $1", a.id)

        let erased = try BuiltProducts.run("inlet", ["tenant", "erase-user", String(a.id), "victim", "--json"], environment: environment)
        #expect(erased.status == 0, "\(erased.error)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(erased.output.utf8)) as? [String: Any], "\(erased.output)")
        #expect(json["state"] as? String == "done" && json["source"] as? String == "cli", "\(erased.output)")
        #expect(try Self.rows(db, tenant: a.id, user: "victim", anonymous: "anon-v") == 0)
        #expect(try Survivors(db, tenant: a.id, other: b.id) == before)

        let unknown = try BuiltProducts.run("inlet", ["tenant", "erase-user", "999999", "victim"], environment: environment)
        #expect(unknown.status != 0)
    }

    /// While a large erasure runs (requested through the admin API), every ingest request is
    /// answered 200.
    @Test func ingestionKeepsAnswering200WhileAnErasureRuns() async throws {
        let harness = try Self.harness("erase_load")
        let tenant = try harness.tenant()
        let db = try harness.connect()
        // 300,000 rows of 50 users over six months, written straight into the tables.
        try db.query(
            """
            SELECT inlet.ensure_month_partitions(timestamptz '2025-01-01 00:00Z' + make_interval(months => n)) FROM generate_series(0, 5) AS n
            """)
        try db.query(
            """
            INSERT INTO events.tracks (tenant_id, id, user_id, "timestamp", received_at, event, event_text, properties)
            SELECT $1, 'preloaded-' || g, 'heavy-' || (g % 50),
                   timestamptz '2025-01-01 00:00Z' + make_interval(secs => g * 40), now(), 'viewed', 'Viewed', '{"n": 1}'
            FROM generate_series(1, 300000) AS g
            """, tenant.id)
        try db.execute("ANALYZE events.tracks")
        let statuses = Mutex<[Int: Int]>([:])
        let (accepted, duringErasure) = try await harness.run { client in
            let db = try harness.connect()
            // An analyst's open transaction holds one of heavy-7's March rows: the erasure's step of
            // that month waits on it (and, after its lock timeout, is tried again by the next pass),
            // so the erasure is surely running while requests are sent, however fast this machine
            // deletes the rest. It is let go once some requests were answered during the erasure.
            let analyst = try harness.connect()
            try analyst.execute("BEGIN")
            try analyst.query(
                """
                SELECT 1 FROM events.tracks WHERE tenant_id = $1 AND user_id = 'heavy-7'
                  AND "timestamp" >= timestamptz '2025-03-01 00:00Z' ORDER BY "timestamp" LIMIT 1 FOR UPDATE
                """, tenant.id)
            var analystHoldsTheRow = true
            let requested = try await client.send(
                .POST, "/admin/tenants/\(tenant.id)/erase-user", headers: [("Authorization", "Bearer \(Self.adminToken)")],
                body: #"{"user_id":"heavy-7"}"#)
            #expect(requested.status == 202, "\(requested.body)")
            #expect(requested.json["state"] as? String == "pending" && requested.json["source"] as? String == "admin-api")
            var accepted = 0
            var duringErasure = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let state = try Self.request(db, tenant: tenant.id)?.state
                if state == .done { break }
                let body = Messages.array((0..<200).map { _ in Messages.track(user: "live-\(Int.random(in: 0..<100))") })
                let answer = try await client.post("/", json: body, token: tenant.token)
                statuses.withLock { $0[answer.status, default: 0] += 1 }
                if answer.status == 200 { accepted += 200 }
                if state == .running { duringErasure += 1 }
                if analystHoldsTheRow && duringErasure >= 5 {
                    try analyst.execute("ROLLBACK")
                    analystHoldsTheRow = false
                }
            }
            let listed = try await client.get("/admin/deletes?tenant=\(tenant.id)", headers: [("Authorization", "Bearer \(Self.adminToken)")])
            #expect(listed.status == 200 && listed.body.contains("heavy-7") && listed.body.contains("done"), "\(listed.body)")
            return (accepted, duringErasure)
        }
        let seen = statuses.withLock { $0 }
        #expect(Set(seen.keys) == [200], "\(seen)")
        #expect(duringErasure > 0, "no request was sent while the erasure ran")
        #expect(try Self.request(db, tenant: tenant.id)?.state == .done)
        #expect(try db.count("events.tracks", tenant: tenant.id, where: "user_id = 'heavy-7'") == 0)
        #expect(try db.count("events.tracks", tenant: tenant.id, where: "id LIKE 'preloaded-%'") == 300_000 - 6_000)
        #expect(try db.count("events.tracks", tenant: tenant.id, where: "user_id LIKE 'live-%'") == accepted)
    }

    /// How long a pass takes per million rows of the tenant on this machine (README, "Erasure").
    /// `INLET_MEASURE_ERASURE_ROWS=1000000 scripts/test.sh --filter measureErasure`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["INLET_MEASURE_ERASURE_ROWS"] != nil))
    func measureErasure() throws {
        let total = Int(ProcessInfo.processInfo.environment["INLET_MEASURE_ERASURE_ROWS"] ?? "") ?? 1_000_000
        let db = try TestDatabase.connect(try TestDatabase.createMigrated("erase_measure"))
        let tenant = try TenantStore(connection: db).create(name: "big").0.id
        try db.query(
            "SELECT inlet.ensure_month_partitions(timestamptz '2025-01-01 00:00Z' + make_interval(months => n)) FROM generate_series(0, 11) AS n")
        // A year of rows of 1,000 users, ~10 % of them identifies, with context as SDKs send it.
        try db.query(
            """
            INSERT INTO events.tracks (tenant_id, id, user_id, anonymous_id, "timestamp", received_at, event, event_text, properties, context)
            SELECT $1, 'm-' || g, 'user-' || (g % 1000), 'anon-' || (g % 1000),
                   timestamptz '2025-01-01 00:00Z' + make_interval(secs => g * (31536000.0 / $2::int)), now(), 'viewed', 'Viewed',
                   '{"plan": "pro", "n": 1}', '{"library": {"name": "analytics.js", "version": "5.2.0"}, "ip": "10.0.0.1"}'
            FROM generate_series(1, $2::int * 9 / 10) AS g
            """, tenant, total)
        try db.query(
            """
            INSERT INTO events.identifies (tenant_id, id, user_id, anonymous_id, "timestamp", received_at, traits)
            SELECT $1, 'i-' || g, 'user-' || (g % 1000), 'anon-' || (g % 1000),
                   timestamptz '2025-01-01 00:00Z' + make_interval(secs => g * (31536000.0 / $2::int) * 9), now(), '{"email": "x@example.com"}'
            FROM generate_series(1, $2::int / 10) AS g
            """, tenant, total)
        try db.execute("VACUUM ANALYZE events.tracks")
        try db.execute("VACUUM ANALYZE events.identifies")
        _ = try ErasureRequestStore(connection: db).record(tenant: tenant, userID: "user-7", source: .cli)
        let started = ContinuousClock.now
        let outcome = try ErasurePass(connection: db).run(tenant: tenant)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("erasure: \(total) rows of the tenant, \(outcome.rowsDeleted) deleted, \(outcome.stepsTotal) tables: \(seconds) s, \(seconds * 1_000_000 / Double(total)) s per million rows")
        #expect(outcome.finished == 1)
    }
}
