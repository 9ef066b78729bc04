import PostgresClient
import Testing

@testable import InletMessages

/// Values Postgres would refuse are repaired, never refused (SPEC "Messages").
@Suite struct SanitisationTests {
    /// A track message around `properties` and `event` given as raw bytes.
    func body(event: [UInt8] = Array("E".utf8), properties: [UInt8] = Array("{}".utf8), userId: [UInt8] = Array("u".utf8)) -> [UInt8] {
        Array(#"{"type":"track","event":""#.utf8) + event + Array(#"","userId":""#.utf8) + userId
            + Array(#"","properties":"#.utf8) + properties + Array("}".utf8)
    }

    func row(_ bytes: [UInt8]) throws -> DecodedRow {
        let batch = try parse(bytes: bytes)
        #expect(batch.rejects.isEmpty, "\(batch.rejects.map(\.reason))")
        return try #require(decodedRows(batch).first)
    }

    @Test func invalidUTF8InStringsBecomesReplacementCharacters() throws {
        let broken: [UInt8] = Array("a".utf8) + [0xFF] + Array("b".utf8) + [0xE2, 0x82] + Array("c".utf8) + [0xC0, 0xAF] + [0xED, 0xA0, 0x80]
        let expected = String(decoding: broken, as: UTF8.self)  // Swift's maximal-subpart replacement
        #expect(expected == "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
        let stored = try row(body(event: broken, properties: Array(#"{"k":""#.utf8) + broken + Array(#""}"#.utf8), userId: broken))
        #expect(stored.text("event_text") == expected)
        #expect(stored.text("user_id") == expected)
        #expect(stored.json("properties") == #"{"k":"\#(expected)"}"#)
    }

    @Test func invalidUTF8InKeysIsRepairedToo() throws {
        let stored = try row(body(properties: Array(#"{""#.utf8) + [0x80] + Array(#"":1}"#.utf8)))
        #expect(stored.json("properties") == "{\"\u{FFFD}\":1}")
    }

    @Test func invalidUTF8OutsideStringsIsASyntaxError() throws {
        #expect(throws: BodyError.self) { try parse(bytes: body(properties: [0x7B, 0xFF, 0x7D])) }
    }

    @Test func rawNulBytesAndEscapedNulAreRemoved() throws {
        let withNul: [UInt8] = Array("a".utf8) + [0] + Array("b".utf8)
        let stored = try row(
            body(
                event: withNul + Array(#"\u0000c"#.utf8),
                properties: Array(#"{"k\u0000":"x\u0000y","r":""#.utf8) + withNul + Array(#""}"#.utf8)))
        #expect(stored.text("event_text") == "abc")
        #expect(stored.text("event") == "abc")
        #expect(stored.json("properties") == #"{"k":"xy","r":"ab"}"#)
    }

    @Test func loneSurrogatesBecomeReplacementCharacters() throws {
        let stored = try row(
            body(
                event: Array(#"a\ud800b\udc00c\ud83d\ude00"#.utf8),
                properties: Array(#"{"hi":"\ud800","lo":"\uDC00x","pair":"\ud83d\ude00","end":"\ud83d"}"#.utf8)))
        #expect(stored.text("event_text") == "a\u{FFFD}b\u{FFFD}c😀")
        #expect(stored.json("properties") == #"{"hi":"\ufffd","lo":"\ufffdx","pair":"\ud83d\ude00","end":"\ufffd"}"#)
    }

    @Test func rawControlCharactersAreEscapedInJSONAndKeptInText() throws {
        let controls: [UInt8] = [0x61, 0x0A, 0x09, 0x1F, 0x0D, 0x08, 0x0C, 0x01]
        let stored = try row(body(event: controls, properties: Array(#"{"c":""#.utf8) + controls + Array(#""}"#.utf8)))
        #expect(stored.text("event_text") == "a\n\t\u{1F}\r\u{08}\u{0C}\u{01}")
        #expect(stored.json("properties") == #"{"c":"a\n\t\u001f\r\b\f\u0001"}"#)
    }

    @Test func escapesAreDecodedInTextColumns() throws {
        let stored = try row(body(event: Array(#"Say \"hi\" \\ \/ caf\u00e9 \u20ac"#.utf8)))
        #expect(stored.text("event_text") == #"Say "hi" \ / café €"#)
        // and left as they are in jsonb, which decodes them itself
        let json = try row(body(properties: Array(#"{"q":"\"\u00e9\n"}"#.utf8)))
        #expect(json.json("properties") == #"{"q":"\"\u00e9\n"}"#)
    }

    @Test func numbersJsonbCannotHoldBecomeStrings() throws {
        let many = String(repeating: "9", count: 1001)
        let properties = #"{"big":1e1001,"small":-2.5E-1001,"long":\#(many),"ok":1e1000,"fine":-0.5e-3,"arr":[1E+5000, 3]}"#
        let stored = try row(body(properties: Array(properties.utf8)))
        #expect(
            stored.json("properties")
                == #"{"big":"1e1001","small":"-2.5E-1001","long":"\#(many)","ok":1e1000,"fine":-0.5e-3,"arr":["1E+5000", 3]}"#)
    }

    @Test func cleanNestedObjectsAreCopiedByteForByte() throws {
        let properties = #"{ "a" :{"b":[true,false,null,{"c":"é😀"}]},"d":-0.0e+0 }"#
        let stored = try row(body(properties: Array(properties.utf8)))
        #expect(stored.json("properties") == properties)
    }

    @Test func envelopeContextIsRepairedBeforeMerging() throws {
        let bytes =
            Array(#"{"batch":[{"type":"track","event":"E","userId":"u","context":{"m":"\u0000x"}}],"context":{"e":""#.utf8)
            + [0xFF] + Array(#""}}"#.utf8)
        let stored = try #require(decodedRows(try parse(bytes: bytes)).first)
        #expect(stored.json("context") == "{\"e\":\"\u{FFFD}\",\"m\":\"x\"}")
    }

    @Test func invalidEscapesAreSyntaxErrors() throws {
        let batch = try parse(#"[{"type":"track","event":"\x","userId":"u"},{"type":"track","event":"\u12G4","userId":"u"}]"#)
        #expect(batch.rejects.count == 2)
        #expect(batch.rejects.allSatisfy { $0.reason.contains("invalid escape") })
    }

    @Test func sanitiserRepairsEveryCaseInOneValue() {
        var raw: [UInt8] = Array(#"[" "#.utf8) + [0x00, 0x07, 0xF0, 0x9F] + Array(#"\ud800\u0000", 1e99999, {"\udfff": -1}]"#.utf8)
        var out: [UInt8] = []
        raw.withUnsafeMutableBufferPointer { buffer in
            JSONSanitizer.appendJSON(buffer.baseAddress!, 0..<buffer.count, to: &out)
        }
        raw = out
        #expect(String(decoding: raw, as: UTF8.self) == "[\" \\u0007\u{FFFD}\\ufffd\", \"1e99999\", {\"\\ufffd\": -1}]")
    }
}
