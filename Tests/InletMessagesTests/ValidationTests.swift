import Foundation
import PostgresClient
import Testing

@testable import InletMessages

@Suite struct ValidationTests {
    @Test func impliedTypeAppliesOnlyToMessagesWithoutAType() throws {
        let implied = try onlyRow(#"{"event":"E","userId":"u"}"#, implied: .track)
        #expect(implied.table == .tracks)
        let own = try onlyRow(#"{"type":"identify","userId":"u"}"#, implied: .track)
        #expect(own.table == .identifies)
    }

    @Test func missingTypeWithoutImpliedTypeIsRejected() throws {
        #expect(try rejectReason(#"{"userId":"u"}"#) == #"message has no "type""#)
    }

    @Test func unknownTypeIsRejectedAndMarked() throws {
        let batch = try parse(#"{"type":"foo","userId":"u","messageId":"m-9"}"#)
        let reject = try #require(batch.rejects.first)
        #expect(reject.reason == #"unknown message type "foo""#)
        #expect(reject.isUnknownType)
        #expect(reject.messageID == "m-9")
        #expect(reject.raw == Array(#"{"type":"foo","userId":"u","messageId":"m-9"}"#.utf8))
        #expect(try rejectReason(#"{"type":"Track","event":"E","userId":"u"}"#) == #"unknown message type "Track""#)
        #expect(try rejectReason(#"{"type":7,"userId":"u"}"#) == #""type" must be a string"#)
    }

    @Test func everyMessageNeedsAUserIdOrAnAnonymousId() throws {
        #expect(try rejectReason(#"{"type":"page"}"#) == #"message needs "userId" or "anonymousId""#)
        #expect(try rejectReason(#"{"type":"page","userId":"","anonymousId":null}"#) == #"message needs "userId" or "anonymousId""#)
        #expect(try rejectReason(#"{"type":"page","userId":"\u0000"}"#) == #"message needs "userId" or "anonymousId""#)
        #expect(try onlyRow(#"{"type":"page","anonymousId":"a"}"#).text("anonymous_id") == "a")
    }

    @Test func idsMayBeNumbersStoredAsWritten() throws {
        let row = try onlyRow(#"{"type":"group","userId":12345678901234567890,"anonymousId":-1.50e3,"groupId":7}"#)
        #expect(row.text("user_id") == "12345678901234567890")
        #expect(row.text("anonymous_id") == "-1.50e3")
        #expect(row.text("group_id") == "7")
    }

    @Test func idsOfOtherTypesAreRejected() throws {
        #expect(try rejectReason(#"{"type":"page","userId":true}"#) == #""userId" must be a string"#)
        #expect(try rejectReason(#"{"type":"page","userId":"u","anonymousId":{}}"#) == #""anonymousId" must be a string"#)
        #expect(try rejectReason(#"{"type":"group","userId":"u","groupId":[1]}"#) == #""groupId" must be a string"#)
    }

    @Test func typeSpecificRequirements() throws {
        #expect(try rejectReason(#"{"type":"track","userId":"u"}"#) == #"track needs "event""#)
        #expect(try rejectReason(#"{"type":"track","userId":"u","event":""}"#) == #"track needs a non-empty "event""#)
        #expect(try rejectReason(#"{"type":"track","userId":"u","event":5}"#) == #""event" must be a string"#)
        #expect(try rejectReason(#"{"type":"group","userId":"u"}"#) == #"group needs "groupId""#)
        #expect(try rejectReason(#"{"type":"alias","userId":"u"}"#) == #"alias needs "previousId""#)
        #expect(try rejectReason(#"{"type":"alias","anonymousId":"a","previousId":"p"}"#) == #"alias needs "userId""#)
        #expect(try rejectReason(#"{"type":"delete","anonymousId":"a"}"#) == #"delete needs "userId""#)
    }

    @Test func objectMembersMustBeObjects() throws {
        #expect(try rejectReason(#"{"type":"track","userId":"u","event":"E","properties":[]}"#) == #""properties" must be an object"#)
        #expect(try rejectReason(#"{"type":"identify","userId":"u","traits":"x"}"#) == #""traits" must be an object"#)
        #expect(try rejectReason(#"{"type":"page","userId":"u","context":1}"#) == #""context" must be an object"#)
        #expect(try rejectReason(#"{"type":"page","userId":"u","integrations":true}"#) == #""integrations" must be an object"#)
        #expect(try rejectReason(#"{"type":"page","userId":"u","name":{}}"#) == #""name" must be a string"#)
        #expect(try rejectReason(#"{"type":"page","userId":"u","category":1}"#) == #""category" must be a string"#)
        // null is absent.
        let row = try onlyRow(#"{"type":"track","userId":"u","event":"E","properties":null,"context":null}"#)
        #expect(row.isNull("properties") && row.isNull("context"))
    }

    @Test func messageIdLongerThan255BytesIsRejected() throws {
        let ok = String(repeating: "é", count: 127)  // 254 bytes
        #expect(try onlyRow(#"{"type":"page","userId":"u","messageId":"\#(ok)"}"#).text("id") == ok)
        let long = String(repeating: "x", count: 256)
        #expect(try rejectReason(#"{"type":"page","userId":"u","messageId":"\#(long)"}"#) == #""messageId" is longer than 255 bytes"#)
        #expect(try rejectReason(#"{"type":"page","userId":"u","messageId":5}"#) == #""messageId" must be a string"#)
    }

    @Test func missingMessageIdIsGeneratedDeterministically() throws {
        let body = #"{"type":"track","event":"E","userId":"u"}"#
        let first = try onlyRow(body)
        let again = try onlyRow(body)
        let other = try onlyRow(#"{"type":"track","event":"F","userId":"u"}"#)
        #expect(first.messageID == again.messageID)
        #expect(first.messageID != other.messageID)
        #expect(first.messageID.hasPrefix("inlet-"))
        #expect(first.messageID.count == 6 + 32)
        #expect(first.messageID.dropFirst(6).allSatisfy { "0123456789abcdef".contains($0) })
        #expect(first.text("id") == first.messageID)
        // The same message in a batch hashes the same bytes.
        let inBatch = decodedRows(try parse("[ \(body) ]"))
        #expect(inBatch.first?.messageID == first.messageID)
        // Empty counts as missing.
        #expect(try onlyRow(#"{"type":"track","event":"E","userId":"u","messageId":""}"#).messageID.hasPrefix("inlet-"))
    }

    @Test func messageLargerThanTheLimitIsRejected() throws {
        let padding = String(repeating: "x", count: 32 * 1024)
        let big = #"{"type":"track","event":"E","userId":"u","messageId":"big","properties":{"p":"\#(padding)"}}"#
        let batch = try parse("[\(big), {\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\"}]")
        #expect(batch.rows.count == 1)
        let reject = try #require(batch.rejects.first)
        #expect(reject.reason == "message is larger than 32 KiB")
        #expect(reject.messageID == "big")
        // A single message over the limit is a reject too (the HTTP layer answers 400).
        let single = try parse(big)
        #expect(single.isSingleMessage && single.rejects.count == 1 && single.rows.isEmpty)
        // Just under the limit is fine.
        let fits = #"{"type":"track","event":"E","userId":"u","properties":{"p":""}}"#
        let exact = fits.replacingOccurrences(of: #""p":"""#, with: #""p":""# + String(repeating: "y", count: 32 * 1024 - fits.utf8.count) + "\"")
        #expect(exact.utf8.count == 32 * 1024)
        #expect(try parse(exact).rows.count == 1)
    }

    @Test func oneBadMessageNeverFailsTheBatch() throws {
        let body = #"[{"type":"track","userId":"u"},{"type":"track","event":"E","userId":"u"},{"type":"nope","userId":"u"}]"#
        let batch = try parse(body)
        #expect(batch.rows.count == 1 && batch.rows[0].messageIndex == 1)
        #expect(batch.rejects.map(\.messageIndex) == [0, 2])
    }

    @Test func deepNestingInsideAMessageRejectsItWithoutCrashing() throws {
        // 10,000 levels, yet under 32 KiB, so depth is what refuses it.
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let body = #"[{"type":"track","event":"E","userId":"u","properties":{"a":\#(deep)}},{"type":"track","event":"E","userId":"u"}]"#
        let batch = try parse(body)
        #expect(batch.rows.count == 1)
        #expect(batch.rejects.first?.reason == "message is nested deeper than 64 levels")
        // Arrays as deep, as a whole element.
        let arrays = "[" + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "]"
        #expect(try parse(arrays).rejects.first?.reason == "message must be a JSON object")
        // Deep nesting at the top of the body refuses the body.
        let topLevel = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(try parse(topLevel).rejects.count == 1)
        let envelope = #"{"batch":[],"context":{"a":\#(deep)}}"#
        #expect(bodyError(envelope)?.description.contains("nested deeper than 64 levels") == true)
        let unbalanced = String(repeating: "[", count: 100_000)
        #expect(bodyError(unbalanced)?.isSyntaxError == true)
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        // The message is depth 1, properties 2: 63 levels from properties reach 64.
        let nested = String(repeating: #"{"a":"#, count: 63) + "1" + String(repeating: "}", count: 63)
        let body = #"{"type":"track","event":"E","userId":"u","properties":\#(nested)}"#
        #expect(try parse(body).rows.count == 1)
        let tooDeep = #"{"type":"track","event":"E","userId":"u","properties":{"b":\#(nested)}}"#
        #expect(bodyError(tooDeep)?.description.contains("nested deeper than 64 levels") == true)
    }

    @Test func identifyAndGroupWithoutTraitsTakeContextTraits() throws {
        let identify = try onlyRow(#"{"type":"identify","userId":"u","context":{"ip":"x","traits":{"email":"a@b"}}}"#)
        #expect(identify.json("traits") == #"{"email":"a@b"}"#)
        let group = try onlyRow(#"{"type":"group","userId":"u","groupId":"g","context":{"traits":{"n":1},"traits":{"n":2}}}"#)
        #expect(group.json("traits") == #"{"n":2}"#)
        let own = try onlyRow(#"{"type":"identify","userId":"u","traits":{"own":true},"context":{"traits":{"email":"a@b"}}}"#)
        #expect(own.json("traits") == #"{"own":true}"#)
        let notObject = try onlyRow(#"{"type":"identify","userId":"u","context":{"traits":"x"}}"#)
        #expect(notObject.isNull("traits"))
        let fromEnvelope = decodedRows(try parse(#"{"batch":[{"type":"identify","userId":"u"}],"context":{"traits":{"plan":"pro"}}}"#))
        #expect(fromEnvelope.first?.json("traits") == #"{"plan":"pro"}"#)
        let track = try onlyRow(#"{"type":"track","event":"E","userId":"u","context":{"traits":{"a":1}}}"#)
        #expect(track.values["traits"] == nil)
    }
}
