import Foundation
import InletMessages
import InletServer
import InletTestSupport
import PostgresClient
import Testing

/// `inlet quarantine list/show/replay`, run as the built binary against a real database.
@Suite struct QuarantineTests {
    @Test func anOperatorListsShowsAndReplaysTheQuarantineWithoutDuplicates() async throws {
        let harness = try IngestHarness("quarantine-cli")
        let db = try harness.connect()
        try db.execute("ALTER TABLE events.tracks ADD CONSTRAINT no_poison CHECK (event_text NOT LIKE 'poison%')")
        let (tenant, token) = try harness.tenant()
        let (onlyQuarantined, alsoResent) = (UUID().uuidString, UUID().uuidString)
        let resent = Messages.track(id: alsoResent, event: "poison 2", timestamp: "2024-02-02T02:02:02Z")
        // Without a timestamp, its redelivery is stored under another arrival time than the
        // quarantined copy's: the replay must still know it for the same message.
        let resentUntimed = UUID().uuidString
        let untimed = Messages.track(id: resentUntimed, event: "poison 3")
        try await harness.run { client in
            let answer = try await client.post(
                "/",
                json: Messages.array([
                    Messages.track(), Messages.track(id: onlyQuarantined, event: "poison 1"), resent, untimed,
                    #"{"type":"track","userId":"u","messageId":"still-invalid"}"#,
                ]), token: token)
            #expect(answer.status == 200, "\(answer.body)")
            #expect((answer.json["rejected"] as? [Any])?.count == 4)
        }
        let environment = ["DATABASE_URL": harness.databaseURL]
        let list = try BuiltProducts.run("inlet", ["quarantine", "list", "--tenant", String(tenant)], environment: environment)
        #expect(list.status == 0, "\(list.error)")
        #expect(list.output.contains(onlyQuarantined) && list.output.contains("23514") && list.output.contains("still-invalid"), "\(list.output)")

        let poisonRow = try #require(
            try db.query("SELECT id FROM inlet.rejected_messages WHERE message_id = $1", onlyQuarantined).first?.decode(Int64.self, at: 0))
        let show = try BuiltProducts.run("inlet", ["quarantine", "show", String(poisonRow)], environment: environment)
        #expect(show.status == 0, "\(show.error)")
        #expect(show.output.contains(#""event":"poison 1""#) && show.output.contains("23514"), "\(show.output)")

        // The fix: the constraint goes. One message is meanwhile delivered again by its sender.
        try db.execute("ALTER TABLE events.tracks DROP CONSTRAINT no_poison")
        let again = try await harness.run { client in try await client.post("/", json: Messages.array([resent, untimed]), token: token) }
        #expect(again.json["accepted"] as? Int == 2, "\(again.body)")
        for _ in 0..<2 {  // a second replay changes nothing
            let replay = try BuiltProducts.run("inlet", ["quarantine", "replay", "--tenant", String(tenant)], environment: environment)
            #expect(replay.status == 0, "\(replay.error)")
            #expect(replay.output.contains("still refused"), "\(replay.output)")
        }
        #expect(try db.count("events.tracks", tenant: tenant, where: "id = '\(onlyQuarantined)'") == 1)
        #expect(try db.count("events.tracks", tenant: tenant, where: "id = '\(alsoResent)'") == 1)
        #expect(try db.count("events.tracks", tenant: tenant, where: "id = '\(resentUntimed)'") == 1)
        let left = try db.query("SELECT message_id, reason, replayed_at IS NOT NULL FROM inlet.rejected_messages WHERE tenant_id = $1", tenant).rows
        #expect(left.count == 1)
        #expect(try left.first?.decode(String?.self, at: 0) == "still-invalid")
        #expect(try left.first?.decode(String.self, at: 1).contains("event") == true)
        #expect(try left.first?.decode(Bool.self, at: 2) == true)
    }

    /// The one description of the message tables' columns (``EventTable/columnDescriptions``),
    /// which the encoder, the writer and the fuzzer use, is the schema's.
    @Test func theColumnDescriptionMatchesTheSchema() throws {
        let db = try TestDatabase.connect(try TestDatabase.createMigrated("columns"))
        for table in EventTable.allCases {
            let rows = try db.query(
                """
                SELECT column_name, data_type, is_nullable = 'NO' FROM information_schema.columns
                WHERE table_schema = 'events' AND table_name = $1 AND column_name <> 'loaded_at' ORDER BY ordinal_position
                """, table.name
            ).rows
            let schema = try rows.map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(String.self, at: 1)) \(try $0.decode(Bool.self, at: 2))" }
            let described = table.columnDescriptions.map { column in
                let type = switch column.kind {
                case .int8: "bigint"
                case .text: "text"
                case .timestamptz: "timestamp with time zone"
                case .jsonb: "jsonb"
                }
                return "\(column.name) \(type) \(column.notNull)"
            }
            #expect(Set(schema) == Set(described), "\(table.name)")
            #expect(table.fieldCount == described.count)
        }
    }
}
