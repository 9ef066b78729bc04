import Foundation
import InletServer
import InletTestSupport
import PostgresClient
import Testing

@Suite struct IngestTests {
    @Test func everyBodyShapeIsStoredWithEitherWayToAuthenticate() async throws {
        let harness = try IngestHarness("shapes")
        let (tenant, token) = try harness.tenant()
        let ids = (0..<6).map { _ in UUID().uuidString }
        try await harness.run { client in
            // One message, header auth.
            var answer = try await client.post("/", json: Messages.track(id: ids[0]), token: token)
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.json["accepted"] as? Int == 1)
            // A bare array (Segment webhook batching).
            answer = try await client.post("/", json: Messages.array([Messages.track(id: ids[1]), Messages.identify(id: ids[2])]), token: token)
            #expect(answer.json["accepted"] as? Int == 2, "\(answer.body)")
            // A batch envelope authenticated by its writeKey, with context merged into each message.
            answer = try await client.post(
                "/v1/batch",
                json: Messages.batch([Messages.track(id: ids[3])], extra: #","writeKey":"\#(token)","context":{"library":{"name":"test"}}"#))
            #expect(answer.status == 200, "\(answer.body)")
            // The Tracking API: type implied by the route, writeKey in the message.
            answer = try await client.post(
                "/v1/track", json: #"{"messageId":"\#(ids[4])","userId":"u","event":"Clicked","writeKey":"\#(token)"}"#)
            #expect(answer.status == 200, "\(answer.body)")
            // Both present: the header decides, even with a wrong writeKey.
            answer = try await client.post(
                "/v1/batch", json: Messages.batch([Messages.track(id: ids[5])], extra: #","writeKey":"wrong""#), token: token)
            #expect(answer.status == 200, "\(answer.body)")
        }
        let db = try harness.connect()
        #expect(try db.count("events.tracks", tenant: tenant) == 5)
        #expect(try db.count("events.identifies", tenant: tenant) == 1)
        let context = try db.query("SELECT context->'library'->>'name' FROM events.tracks WHERE id = $1", ids[3]).first
        #expect(try context?.decode(String?.self, at: 0) == "test")
        let slug = try db.query("SELECT event, event_text FROM events.tracks WHERE id = $1", ids[4]).first
        #expect(try slug?.decode(String.self, at: 0) == "clicked")
        #expect(try db.count("events.users", tenant: tenant, where: "id = 'user-1' AND traits->>'email' = 'a@example.com'") == 1)
    }

    @Test func authenticationFailuresAre401AndStoreNothing() async throws {
        let harness = try IngestHarness("auth")
        let (tenant, token) = try harness.tenant()
        try await harness.run { client in
            #expect(try await client.post("/", json: Messages.track()).status == 401)
            #expect(try await client.post("/", json: Messages.track(), token: "not-a-token").status == 401)
            #expect(try await client.post("/", json: Messages.track(), headers: [("Authorization", "Basic !!!")]).status == 401)
            #expect(try await client.post("/", json: Messages.track(), headers: [("Authorization", "Bearer \(token)")]).status == 401)
            let answer = try await client.post("/", json: Messages.track(), token: "nope")
            #expect(answer.json["message"] is String)
            // Disabled: refused within the refresh interval.
            try harness.connect().query("UPDATE inlet.tenants SET enabled = false WHERE id = $1", tenant)
            // An empty batch probes the token without storing anything.
            #expect(try await eventually { try await client.post("/", json: "[]", token: token).status == 401 })
            #expect(try await client.post("/", json: Messages.track(), token: token).status == 401)
        }
        #expect(try harness.connect().count("events.tracks", tenant: tenant) == 0)
    }

    @Test func statusesForBadRequests() async throws {
        let harness = try IngestHarness("statuses") { $0.maxBodyBytes = 64 * 1024; $0.maxDecompressedBytes = 256 * 1024 }
        let (_, token) = try harness.tenant()
        try await harness.run { client in
            #expect(try await client.post("/", json: "{not json", token: token).status == 400)
            #expect(try await client.post("/", json: "42", token: token).status == 400)
            let single = try await client.post("/", json: #"{"type":"track","userId":"u"}"#, token: token)
            #expect(single.status == 400)
            #expect((single.json["message"] as? String)?.contains("event") == true)
            let allBad = try await client.post("/", json: Messages.array([#"{"type":"track"}"#, "7"]), token: token)
            #expect(allBad.status == 400)
            #expect((allBad.json["rejected"] as? [Any])?.count == 2)
            let big = #"{"type":"track","userId":"u","event":"e","properties":{"x":""# + String(repeating: "a", count: 33 * 1024) + #""}}"#
            #expect(try await client.post("/", json: big, token: token).status == 400)
            #expect(try await client.post("/", json: #"{"type":"frobnicate","userId":"u"}"#, token: token).status == 501)
            #expect(try await client.post("/", Array(repeating: 32, count: 65 * 1024), token: token).status == 413)
            #expect(try await client.post("/", Array(Messages.track().utf8), token: token, contentType: "application/xml").status == 415)
            #expect(
                try await client.post("/", json: Messages.track(), token: token, headers: [("Content-Encoding", "br")]).status == 415)
            let empty = try await client.post("/", json: "[]", token: token)
            #expect(empty.status == 200)
            #expect(empty.json["accepted"] as? Int == 0)
            #expect(try await client.post("/v1/batch", json: #"{"batch":[]}"#, token: token).status == 200)
        }
    }

    @Test func gzipBodiesAreReadAndAZipBombIs413() async throws {
        let harness = try IngestHarness("gzip") { $0.maxDecompressedBytes = 1024 * 1024 }
        let (tenant, token) = try harness.tenant()
        try await harness.run { client in
            let body = Messages.gzip(Array(Messages.array((0..<50).map { _ in Messages.track() }).utf8))
            let answer = try await client.post("/", body, token: token, headers: [("Content-Encoding", "gzip")])
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.json["accepted"] as? Int == 50)
            // 100 MB of spaces compress to about 100 KB.
            let bomb = Messages.gzip([UInt8](repeating: 32, count: 100 * 1024 * 1024))
            #expect(try await client.post("/", bomb, token: token, headers: [("Content-Encoding", "gzip")]).status == 413)
            let truncated = Array(body.prefix(body.count / 2))
            #expect(try await client.post("/", truncated, token: token, headers: [("Content-Encoding", "gzip")]).status == 400)
        }
        #expect(try harness.connect().count("events.tracks", tenant: tenant) == 50)
    }

    @Test func anInvalidMessageInABatchIsQuarantinedAndListed() async throws {
        let harness = try IngestHarness("quarantine")
        let (tenant, token) = try harness.tenant()
        let badID = UUID().uuidString
        try await harness.run { client in
            let answer = try await client.post(
                "/", json: Messages.array([Messages.track(), #"{"type":"track","messageId":"\#(badID)","userId":"u"}"#, Messages.track()]),
                token: token)
            #expect(answer.status == 200)
            #expect(answer.json["accepted"] as? Int == 2)
            let rejected = try #require(answer.json["rejected"] as? [[String: Any]])
            #expect(rejected.count == 1)
            #expect(rejected.first?["index"] as? Int == 1)
            #expect(rejected.first?["messageId"] as? String == badID)
        }
        let row = try harness.connect().query(
            "SELECT reason, convert_from(raw_message, 'UTF8') FROM inlet.rejected_messages WHERE tenant_id = $1 AND message_id = $2",
            tenant, badID
        ).first
        #expect(try row?.decode(String.self, at: 0).contains("event") == true)
        #expect(try row?.decode(String.self, at: 1).contains(badID) == true)
    }

    @Test func theSameBatchTwiceAndTheSameRequestConcurrentlyAreStoredOnce() async throws {
        let harness = try IngestHarness("dedupe")
        let (tenant, token) = try harness.tenant()
        let body = Messages.array((0..<100).map { _ in Messages.track(timestamp: "2024-05-01T10:00:00Z") })
        try await harness.run { client in
            let first = try await client.post("/", json: body, token: token)
            #expect(first.json["accepted"] as? Int == 100)
            let again = try await client.post("/", json: body, token: token)
            #expect(again.status == 200)
            #expect(again.json["accepted"] as? Int == 0)
            #expect(again.json["duplicates"] as? Int == 100)

            let concurrent = Messages.array((0..<200).map { _ in Messages.track(timestamp: "2024-05-02T10:00:00Z") })
            let answers = try await withThrowingTaskGroup(of: IngestHarness.Client.Answer.self) { group in
                for _ in 0..<4 { group.addTask { try await client.post("/", json: concurrent, token: token) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.status == 200 })
            let accepted = answers.compactMap { $0.json["accepted"] as? Int }.reduce(0, +)
            let duplicates = answers.compactMap { $0.json["duplicates"] as? Int }.reduce(0, +)
            #expect(accepted == 200)
            #expect(duplicates == 600)
        }
        #expect(try harness.connect().count("events.tracks", tenant: tenant) == 300)
    }

    @Test func identifiesAndGroupsKeepProfilesMergedInTimeOrder() async throws {
        let harness = try IngestHarness("profiles")
        let (tenant, token) = try harness.tenant()
        @Sendable func identify(_ user: String, _ time: String, _ traits: String, id: String = UUID().uuidString) -> String {
            #"{"type":"identify","messageId":"\#(id)","userId":"\#(user)","timestamp":"\#(time)","traits":\#(traits)}"#
        }
        let odd = #"o\"dd \\ {user},"#  // quotes, a backslash, braces and a comma in the id
        let replayed = UUID().uuidString
        try await harness.run { client in
            // Newest first: the older message only fills the gap ("c"), it does not win "a".
            var answer = try await client.post(
                "/", json: Messages.array([
                    identify("u1", "2024-05-02T00:00:00Z", #"{"a":"new","b":1}"#),
                    identify("u1", "2024-05-01T00:00:00Z", #"{"a":"old","c":3}"#),
                    identify(odd, "2024-05-01T00:00:00Z", #"{"q":"\"x\"\\"}"#),
                    #"{"type":"group","messageId":"\#(UUID().uuidString)","userId":"u1","groupId":"g1","timestamp":"2024-05-01T00:00:00Z","traits":{"name":"Acme"}}"#,
                    #"{"type":"group","messageId":"\#(UUID().uuidString)","userId":"u1","groupId":"\#(String(repeating: "g", count: 3000))","traits":{}}"#,
                ]), token: token)
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.json["accepted"] as? Int == 5)
            // Later, a newer identify in one request and a redelivered one (the staged path) in another.
            answer = try await client.post("/", json: identify("u1", "2024-05-03T00:00:00Z", #"{"b":2}"#, id: replayed), token: token)
            #expect(answer.status == 200, "\(answer.body)")
            answer = try await client.post(
                "/", json: Messages.array([
                    identify("u1", "2024-05-03T00:00:00Z", #"{"b":2}"#, id: replayed),
                    identify("u1", "2024-04-30T00:00:00Z", #"{"d":4}"#),
                ]), token: token)
            #expect(answer.json["accepted"] as? Int == 1, "\(answer.body)")
            #expect(answer.json["duplicates"] as? Int == 1, "\(answer.body)")
        }
        let db = try harness.connect()
        let u1 = try db.query(
            "SELECT traits::text, first_seen_at::text, last_seen_at::text FROM events.users WHERE tenant_id = $1 AND id = 'u1'", tenant).first
        #expect(try u1?.decode(String.self, at: 0) == #"{"a": "new", "b": 2, "c": 3, "d": 4}"#)
        #expect(try u1?.decode(String.self, at: 1) == "2024-04-30 00:00:00+00")
        #expect(try u1?.decode(String.self, at: 2) == "2024-05-03 00:00:00+00")
        #expect(try db.count("events.users", tenant: tenant, where: #"id = $$o"dd \ {user},$$ AND"# + " traits->>'q' = $$\"x\"\\$$") == 1)
        #expect(try db.count("events.accounts", tenant: tenant, where: "id = 'g1' AND traits->>'name' = 'Acme'") == 1)
        // The 3,000-byte group id is stored with its message, not as a profile key.
        #expect(try db.count("events.accounts", tenant: tenant) == 1)
        #expect(try db.count("events.groups", tenant: tenant) == 2)
    }

    @Test func anEventFrom2019LandsInAPartitionCreatedForIt() async throws {
        let harness = try IngestHarness("replay")
        let (tenant, token) = try harness.tenant()
        let id = UUID().uuidString
        try await harness.run { client in
            let answer = try await client.post("/", json: Messages.track(id: id, timestamp: "2019-03-10T08:00:00.123456Z"), token: token)
            #expect(answer.status == 200, "\(answer.body)")
        }
        let row = try harness.connect().query(
            "SELECT tableoid::regclass::text, \"timestamp\" FROM events.tracks WHERE tenant_id = $1 AND id = $2", tenant, id
        ).first
        #expect(try row?.decode(String.self, at: 0) == "events.tracks_y2019m03")
        #expect(try row?.decode(Timestamp.self, at: 1) == Timestamp(.init(year: 2019, month: 3, day: 10, hour: 8, microsecond: 123_456)))
    }

    @Test func onePoisonMessageAmong1000FromTwoTenantsFailsNothingElse() async throws {
        // A message that passes validation but that this database refuses (a CHECK constraint
        // stands in for any data error the server may raise).
        let harness = try IngestHarness("poison")
        try harness.connect().execute("ALTER TABLE events.tracks ADD CONSTRAINT no_poison CHECK (event_text <> 'poison')")
        let a = try harness.tenant("a")
        let b = try harness.tenant("b")
        let poisonID = UUID().uuidString
        var bodies: [(token: String, messages: [String])] = (0..<5).map { index in
            (index % 2 == 0 ? a.token : b.token, (0..<200).map { _ in Messages.track() })
        }
        bodies[3].messages[117] = Messages.track(id: poisonID, event: "poison")
        let answers = try await harness.run { [bodies] client in
            try await withThrowingTaskGroup(of: IngestHarness.Client.Answer.self) { group in
                for body in bodies {
                    group.addTask { try await client.post("/", json: Messages.array(body.messages), token: body.token) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(answers.allSatisfy { $0.status == 200 })
        #expect(answers.compactMap { $0.json["accepted"] as? Int }.reduce(0, +) == 999)
        let rejected = answers.flatMap { ($0.json["rejected"] as? [[String: Any]]) ?? [] }
        #expect(rejected.count == 1)
        #expect(rejected.first?["messageId"] as? String == poisonID)
        #expect(rejected.first?["index"] as? Int == 117)
        let db = try harness.connect()
        #expect(try db.count("events.tracks", tenant: a.id) == 600)
        #expect(try db.count("events.tracks", tenant: b.id) == 399)
        #expect(try db.count("inlet.rejected_messages", tenant: b.id, where: "message_id = '\(poisonID)'") == 1)
    }

    @Test func aDeleteIsRecordedAndAcknowledged() async throws {
        let harness = try IngestHarness("delete")
        let (tenant, token) = try harness.tenant()
        let id = UUID().uuidString
        try await harness.run { client in
            let answer = try await client.post("/", json: #"{"type":"delete","messageId":"\#(id)","userId":"gone-user"}"#, token: token)
            #expect(answer.status == 200, "\(answer.body)")
            // Without userId it is invalid.
            #expect(try await client.post("/", json: #"{"type":"delete","anonymousId":"a"}"#, token: token).status == 400)
        }
        #expect(try harness.connect().count("inlet.delete_requests", tenant: tenant, where: "user_id = 'gone-user' AND message_id = '\(id)'") == 1)
    }

    @Test func metricsAreExposedInPrometheusFormat() async throws {
        let harness = try IngestHarness("metrics")
        let (_, token) = try harness.tenant()
        try await harness.run { client in
            _ = try await client.post("/", json: Messages.track(), token: token)
            _ = try await client.post("/", json: Messages.array([Messages.track(), #"{"type":"identify"}"#]), token: token)
            let metrics = try await client.get("/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.body.contains(#"inlet_messages_accepted_total{type="track"} 2"#))
            #expect(metrics.body.contains(#"inlet_messages_rejected_total{type="identify"} 1"#))
            #expect(metrics.body.contains("inlet_queue_messages"))
            #expect(metrics.body.contains("inlet_copy_batch_rows"))
        }
    }
}
