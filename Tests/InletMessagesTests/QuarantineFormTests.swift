import Foundation
import PostgresClient
import Testing

@testable import InletMessages

/// What the quarantine keeps of a message: credentials removed, and a refused row rebuilt as a
/// message that parses back to the same row.
@Suite struct QuarantineFormTests {
    @Test(arguments: [
        (#"{"writeKey":"SECRET","userId":"u"}"#, #"{"writeKey":"[redacted]","userId":"u"}"#),
        (#"{"a":{"b":[{"writeKey" : "SECRET"}]}}"#, #"{"a":{"b":[{"writeKey" : "[redacted]"}]}}"#),
        (#"{"write\u004bey":"SECRET"}"#, #"{"write\u004bey":"[redacted]"}"#),
        (#"{"write_key":"SE\"CRET","x":1}"#, #"{"write_key":"[redacted]","x":1}"#),
        (#"{"writeKey":{"nested":"SECRET"},"x":1}"#, #"{"writeKey":"[redacted]","x":1}"#),
        (#"{"writeKey":12345}"#, #"{"writeKey":"[redacted]"}"#),
        // Not JSON (refused for its syntax): still redacted.
        (#"{"type":"track",,"writeKey":"SECRET""#, #"{"type":"track",,"writeKey":"[redacted]""#),
        // A value that merely says writeKey is no member name.
        (#"{"note":"writeKey","k":"v"}"#, #"{"note":"writeKey","k":"v"}"#),
        // NUL in the name, raw or escaped: the parser removes it, so this is its writeKey.
        ("{\"writeKey\u{0}\u{0}\":\"SECRET\"}", "{\"writeKey\u{0}\u{0}\":\"[redacted]\"}"),
        (#"{"write\u0000Key":"SECRET"}"#, #"{"write\u0000Key":"[redacted]"}"#),
    ])
    func credentialsAreRedactedAtAnyDepth(raw: String, expected: String) {
        #expect(String(decoding: CredentialRedaction.redacted(Array(raw.utf8)), as: UTF8.self) == expected)
    }

    /// `make fuzz` found this (2026-12-02): a message refused for a control character in a
    /// name, whose `writeKey` name ends in 130 NULs. The parser reads that name as `writeKey`;
    /// the redaction, stopping at 16 characters with the NULs counted, did not, so the
    /// quarantine would have kept the token.
    @Test func aWriteKeyNamePaddedWithNULIsRedactedAsTheParserReadsIt() throws {
        let body = try #require(
            Data(
                base64Encoded:
                    "eyJ0eXAHZSI6InRyYWNrIiwibWVzc2FnZUlkIjoiJyIsInVzAGVySWQiOiJ1IiwiZXZlbnQiOiJlIiwid3JpdGVLZXkAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAiOiIkVE9LRU4ifQ=="
            ))
        let parser = MessageParser()
        #expect(parser.writeKey(in: Array(body)) == "$TOKEN")
        let redacted = CredentialRedaction.redacted(Array(body))
        #expect(parser.writeKey(in: redacted) == "[redacted]")
        #expect(!String(decoding: redacted, as: UTF8.self).contains("$TOKEN"))
    }

    @Test(arguments: [
        #"{"type":"track","messageId":"m1","userId":"u","anonymousId":"a","event":"Order \"Completed\"","properties":{"total":1.5,"items":[1,2]},"context":{"ip":"1.2.3.4"},"integrations":{"All":true},"timestamp":"2024-03-01T10:00:00.123456Z","sentAt":"2024-03-01T10:00:01Z","originalTimestamp":"2024-03-01T09:59:59Z"}"#,
        #"{"type":"identify","messageId":"m2","userId":"u","traits":{"email":"a@example.com"}}"#,
        #"{"type":"page","messageId":"m3","anonymousId":"a","name":"Home","category":"Docs","properties":{"path":"/"},"receivedAt":"2024-03-01T10:00:00Z"}"#,
        #"{"type":"screen","messageId":"m4","userId":"u","name":"Main"}"#,
        #"{"type":"group","messageId":"m5","userId":"u","groupId":"g","traits":{"plan":"pro"}}"#,
        #"{"type":"alias","messageId":"m6","userId":"u","previousId":"p","context":{"library":{"name":"x\ty"}}}"#,
        #"{"type":"track","userId":"u","event":"No Id Nor Timestamp"}"#,
    ])
    func aRowRebuiltAsAMessageParsesBackToTheSameRow(body: String) throws {
        let original = try parse(body)
        let row = try #require(original.rows.first)
        let rebuilt = original.message(of: row)
        let again = try parse(bytes: rebuilt)
        let againRow = try #require(again.rows.first, "\(String(decoding: rebuilt, as: UTF8.self))")
        #expect(againRow.table == row.table)
        #expect(
            Array(again.encoders[row.table.rawValue].bytes[againRow.byteRange]) == Array(original.encoders[row.table.rawValue].bytes[row.byteRange]),
            "\(String(decoding: rebuilt, as: UTF8.self))")
    }
}
