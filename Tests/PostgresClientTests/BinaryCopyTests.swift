import Foundation
import InletTestSupport
import PostgresClient
import Testing

@Suite struct BinaryCopyTests {
    struct Sample {
        var text: String?
        var number: Int64?
        var flag: Bool?
        var time: Timestamp?
        var json: String?
        var bytes: [UInt8]?
    }

    static let samples: [Sample] = [
        Sample(
            text: "héllo wörld ✓ Ωμέγα 中文", number: 0, flag: true,
            time: Timestamp(.init(year: 2024, month: 2, day: 29, hour: 23, minute: 59, second: 59, microsecond: 123_456)),
            json: #"{"a": {"b": [1, 2.5, {"c": "ü😀", "d": null, "e": true}]}, "f": "tab\tquote\"back\\slash"}"#,
            bytes: [0, 1, 2, 255]),
        Sample(
            text: "4-byte UTF-8: 😀 𝄞 🇫🇷", number: .max, flag: false,
            time: Timestamp(.init(year: 1, month: 1, day: 1)),  // 0001-01-01, far past
            json: #"[]"#, bytes: []),
        Sample(
            text: "", number: .min, flag: true,
            time: Timestamp(.init(year: -4000, month: 3, day: 1, microsecond: 1)),  // 4001 BC
            json: #""just a string""#, bytes: Array(repeating: 0x5A, count: 3)),
        Sample(
            text: "far future", number: -1, flag: false,
            time: Timestamp(.init(year: 200_000, month: 12, day: 31, hour: 23, minute: 59, second: 59, microsecond: 999_999)),
            json: #"{"deep": [[[[[[[[[[{"x": 1}]]]]]]]]]]}"#, bytes: nil),
        Sample(text: nil, number: nil, flag: nil, time: nil, json: nil, bytes: nil),
        Sample(
            text: String(repeating: "ab€😀", count: 30 * 1024 / 9), number: 42, flag: true,
            time: Timestamp(microsecondsSinceUnixEpoch: 1),
            json: "{\"big\": \"" + String(repeating: "x", count: 30 * 1024) + "\"}", bytes: Array(repeating: 7, count: 30 * 1024)),
    ]

    @Test func everySupportedTypeRoundTrips() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        try connection.execute(
            """
            CREATE TEMP TABLE copy_round_trip (
                position int8 PRIMARY KEY, t text, n int8, b bool, ts timestamptz, j jsonb, raw bytea)
            """)
        let stored = try connection.copyIn("COPY copy_round_trip (position, t, n, b, ts, j, raw) FROM STDIN (FORMAT binary)") {
            copy in
            for (position, sample) in Self.samples.enumerated() {
                try copy.row(fieldCount: 7) { row in
                    row.appendInt8(Int64(position))
                    if let text = sample.text { row.appendText(text) } else { row.appendNull() }
                    if let number = sample.number { row.appendInt8(number) } else { row.appendNull() }
                    if let flag = sample.flag { row.appendBool(flag) } else { row.appendNull() }
                    if let time = sample.time { row.appendTimestamptz(time) } else { row.appendNull() }
                    if let json = sample.json { row.appendJSONB(json) } else { row.appendNull() }
                    if let bytes = sample.bytes { row.appendBytea(bytes) } else { row.appendNull() }
                }
            }
        }
        #expect(stored == Self.samples.count)

        for (position, sample) in Self.samples.enumerated() {
            // jsonb is compared by the server (key order and spacing are not preserved); the
            // timestamp both through the text decoder and as exact epoch microseconds.
            let row = try #require(
                try connection.query(
                    """
                    SELECT t, n, b, ts, raw, (extract(epoch FROM ts) * 1000000)::numeric(30,0)::text,
                           j IS NOT DISTINCT FROM $2::jsonb
                    FROM copy_round_trip WHERE position = $1
                    """, position, sample.json
                ).first)
            #expect(try row.decode(String?.self, at: 0) == sample.text)
            #expect(try row.decode(Int64?.self, at: 1) == sample.number)
            #expect(try row.decode(Bool?.self, at: 2) == sample.flag)
            #expect(try row.decode(Timestamp?.self, at: 3) == sample.time)
            #expect(try row.decode(ByteaValue?.self, at: 4)?.bytes == sample.bytes)
            #expect(try row.decode(String?.self, at: 5) == sample.time.map { String($0.microsecondsSinceUnixEpoch) })
            #expect(try row.decode(Bool.self, at: 6), "jsonb of sample \(position)")
        }
    }

    @Test func rowsEncodedElsewhereCanBeSent() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        try connection.execute("CREATE TEMP TABLE pre_encoded (n int8, t text)")
        var encoder = BinaryCopyEncoder()
        for n in 0..<1_000 {
            encoder.beginRow(fieldCount: 2)
            encoder.appendInt8(Int64(n))
            encoder.appendText("row \(n)")
        }
        let stored = try connection.copyIn("COPY pre_encoded (n, t) FROM STDIN (FORMAT binary)", flushThreshold: 4_096) {
            copy in try copy.send(encodedRows: encoder)
        }
        #expect(stored == 1_000)
        let sum = try connection.query("SELECT sum(n)::int8, count(DISTINCT t) FROM pre_encoded").first
        #expect(try sum?.decode(Int64.self, at: 0) == 499_500)
        #expect(try sum?.decode(Int.self, at: 1) == 1_000)
    }

    struct Abort: Error {}

    @Test func fieldsReadBackFromAnEncodedRow() {
        var encoder = BinaryCopyEncoder()
        encoder.beginRow(fieldCount: 1)
        encoder.appendText("skipped row")
        let start = encoder.bytes.count
        encoder.beginRow(fieldCount: 4)
        encoder.appendInt8(7)
        encoder.appendNull()
        encoder.appendText("user-ü")
        encoder.appendJSONB(#"{"a":1}"#)
        #expect(encoder.field(0, ofRowAt: start).map { encoder.bytes[$0].count } == 8)
        #expect(encoder.field(1, ofRowAt: start) == nil)
        #expect(encoder.field(2, ofRowAt: start).map { String(decoding: encoder.bytes[$0], as: UTF8.self) } == "user-ü")
        #expect(encoder.field(3, ofRowAt: start).map { Array(encoder.bytes[$0]) } == [1] + Array(#"{"a":1}"#.utf8))
    }

    @Test func arrayLiteralsCarryAnyTextToTheServer() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        let values: [String?] = [#"{"q": "a \"quoted\" \\ back\\slash", "b": [1, 2]}"#, nil, "", "NULL", "{,}", "ü😀 \t"]
        var literal = PostgresArrayLiteral()
        for value in values {
            if let value { literal.append(value) } else { literal.appendNull() }
        }
        let result = try connection.query("SELECT v, v IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n", literal.text)
        #expect(result.rows.count == values.count)
        for (row, value) in zip(result.rows, values) {
            let isNull: Bool = try row.decode(at: 1)
            #expect(isNull == (value == nil))
            if let value { #expect(try row.decode(at: 0) as String == value) }
        }
        let empty = try connection.query("SELECT cardinality($1::jsonb[])", PostgresArrayLiteral().text)
        #expect(try empty.rows[0].decode(at: 0) as Int == 0)
    }

    @Test func copyAbortedByTheClientStoresNothingAndKeepsTheConnection() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        try connection.execute("CREATE TEMP TABLE aborted (n int8)")
        #expect(throws: Abort.self) {
            try connection.copyIn("COPY aborted (n) FROM STDIN (FORMAT binary)") { copy in
                try copy.row(fieldCount: 1) { $0.appendInt8(1) }
                throw Abort()
            }
        }
        #expect(connection.isHealthy)
        #expect(try connection.query("SELECT count(*) FROM aborted").first?.decode(Int.self, at: 0) == 0)
    }

    @Test func valueTheServerRefusesFailsWithItsSQLState() throws {
        let connection = try TestDatabase.connect(TestDatabase.serverURL)
        try connection.execute("CREATE TEMP TABLE refused (t text)")
        let error = try #require(throws: PostgresError.self) {
            try connection.copyIn("COPY refused (t) FROM STDIN (FORMAT binary)") { copy in
                try copy.row(fieldCount: 1) { $0.appendText("fine") }
                try copy.row(fieldCount: 1) { $0.appendText("NUL \u{0} inside") }
            }
        }
        #expect(error.sqlState == SQLState.characterNotInRepertoire)
        #expect(error.kind == .copy)
        #expect(try connection.query("SELECT count(*) FROM refused").first?.decode(Int.self, at: 0) == 0)
    }
}
