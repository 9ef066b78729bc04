import InletMessages
import InletTestSupport
import PostgresClient
import Testing

/// The rows the parser encodes are accepted by the real PostgreSQL, hostile values included.
@Suite struct PostgresCopyTests {
    /// A body of valid messages carrying every repair case, one table each at least.
    static let body: [UInt8] = {
        var messages: [[UInt8]] = []
        func add(_ parts: [UInt8]...) { messages.append(parts.flatMap { $0 }) }
        func s(_ text: String) -> [UInt8] { Array(text.utf8) }
        // 0: invalid UTF-8 and raw NUL in text and jsonb, control characters, lone surrogates.
        add(
            s(#"{"type":"track","messageId":"m-0","userId":"u"#), [0xFF, 0x00], s(#"x","event":"Bad"#), [0xC3],
            s(#" Name\u0000","properties":{"k\u0000":"v"#), [0x00, 0x01, 0x0A, 0xE2, 0x82], s(#"","s":"\ud800","t":"\udc00z","#),
            s(#""big":1e1001,"ok":1e1000,"e":"\ud83d\ude00"},"context":{"ip":"1.2.3.4"},"timestamp":"2024-02-10T10:00:00.123456Z"}"#))
        // 1: identify with traits from context, numeric userId, controls in keys.
        add(s(#"{"type":"identify","userId":123456789012345678901234567890,"context":{"traits":{"n"#), [0x1F], s(#"":"x"}}}"#))
        // 2: page with name/category, no messageId (generated).
        add(s(#"{"type":"page","anonymousId":"a-2","name":"Home\tPage","category":null,"properties":{"path":"/"}}"#))
        // 3: screen with a deep-but-allowed object and escapes.
        add(s(#"{"type":"screen","userId":"u3","name":"Caf\u00e9 \"Main\"","properties":{"a":[[[[{"b":"\/"}]]]]}}"#))
        // 4: group, numeric groupId, skew-corrected timestamp.
        add(
            s(#"{"type":"group","userId":"u4","groupId":42,"traits":{"plan":"pro"},"originalTimestamp":"2024-03-05T08:00:00Z","#),
            s(#""sentAt":"2024-03-05T09:00:00Z"}"#))
        // 5: alias, absurd timestamp.
        add(s(#"{"type":"alias","userId":"u5","previousId":"p\u0000","timestamp":"1971-01-01T00:00:00Z"}"#))
        let envelope = s(#"{"batch":["#) + messages.joined(separator: s(",")) + s(#"],"context":{"library":{"name":"x"#)
            + [0xFE] + s(#""}},"integrations":{"All":true},"writeKey":"wk"}"#)
        return envelope
    }()

    @Test func hostileButValidMessagesAreStoredAsRepaired() throws {
        let arrival = Timestamp(.init(year: 2024, month: 3, day: 5, hour: 12))
        let batch = try MessageParser().parse(Self.body, tenantID: 1, impliedType: nil, arrival: arrival)
        #expect(batch.rejects.isEmpty, "\(batch.rejects.map(\.reason))")
        #expect(batch.rows.count == 6)

        let connection = try TestDatabase.connect(try TestDatabase.createMigrated("messages"))
        for row in batch.rows {
            _ = try connection.query("SELECT inlet.ensure_month_partitions($1)", row.timestamp)
        }
        for table in EventTable.allCases {
            let encoder = batch.encoders[table.rawValue]
            guard encoder.rowCount > 0 else { continue }
            let columns = table.columns.map { "\"\($0)\"" }.joined(separator: ", ")
            let stored = try connection.copyIn("COPY events.\(table.name) (\(columns)) FROM STDIN (FORMAT binary)") {
                try $0.send(encodedRows: encoder)
            }
            #expect(stored == encoder.rowCount)
        }

        func one(_ sql: String) throws -> Row { try #require(try connection.query(sql).first) }
        let expectedContext = #"{"ip": "1.2.3.4", "library": {"name": "x\#u{FFFD}"}}"#

        let track = try one(
            """
            SELECT tenant_id, id, user_id, event, event_text, properties::text, context::text, integrations::text,
                   "timestamp", received_at, sent_at
            FROM events.tracks
            """)
        #expect(try track.decode(Int64.self, at: 0) == 1)
        #expect(try track.decode(String.self, at: 1) == "m-0")
        #expect(try track.decode(String.self, at: 2) == "u\u{FFFD}x")
        #expect(try track.decode(String.self, at: 3) == "bad_name")
        #expect(try track.decode(String.self, at: 4) == "Bad\u{FFFD} Name")
        let properties = try track.decode(String.self, at: 5)
        let expectedProperties = #"{"e": "😀", "k": "v\u0001\n\#u{FFFD}", "s": "\#u{FFFD}", "t": "\#u{FFFD}z", "ok": 1e1000, "big": "1e1001"}"#
        #expect(try connection.query("SELECT $1::jsonb = $2::jsonb", properties, expectedProperties).first?.decode(Bool.self, at: 0) == true,
            "\(properties)")
        #expect(try connection.query("SELECT $1::jsonb = $2::jsonb", try track.decode(String.self, at: 6), expectedContext).first?.decode(Bool.self, at: 0) == true)
        #expect(try track.decode(String.self, at: 7) == #"{"All": true}"#)
        #expect(try track.decode(Timestamp.self, at: 8) == Timestamp(.init(year: 2024, month: 2, day: 10, hour: 10, microsecond: 123_456)))
        #expect(try track.decode(Timestamp.self, at: 9) == arrival)
        #expect(try track.decode(Timestamp?.self, at: 10) == nil)

        let identify = try one("SELECT user_id, traits::text FROM events.identifies")
        #expect(try identify.decode(String.self, at: 0) == "123456789012345678901234567890")
        #expect(try identify.decode(String.self, at: 1) == #"{"n\u001f": "x"}"#)

        let page = try one("SELECT id, anonymous_id, user_id, name, category, properties::text FROM events.pages")
        #expect(try page.decode(String.self, at: 0).hasPrefix("inlet-"))
        #expect(try page.decode(String.self, at: 1) == "a-2")
        #expect(try page.decode(String?.self, at: 2) == nil)
        #expect(try page.decode(String.self, at: 3) == "Home\tPage")
        #expect(try page.decode(String?.self, at: 4) == nil)

        let screen = try one("SELECT name, properties::text FROM events.screens")
        #expect(try screen.decode(String.self, at: 0) == #"Café "Main""#)
        #expect(try screen.decode(String.self, at: 1) == #"{"a": [[[[{"b": "/"}]]]]}"#)

        let group = try one(#"SELECT group_id, traits::text, "timestamp", original_timestamp FROM events.groups"#)
        #expect(try group.decode(String.self, at: 0) == "42")
        #expect(try group.decode(String.self, at: 1) == #"{"plan": "pro"}"#)
        #expect(try group.decode(Timestamp.self, at: 2) == Timestamp(.init(year: 2024, month: 3, day: 5, hour: 11)))

        let alias = try one(#"SELECT previous_id, "timestamp", original_timestamp FROM events.aliases"#)
        #expect(try alias.decode(String.self, at: 0) == "p")
        #expect(try alias.decode(Timestamp.self, at: 1) == arrival)
        #expect(try alias.decode(Timestamp.self, at: 2) == Timestamp(.init(year: 1971, month: 1, day: 1)))
    }
}
