import Foundation
import PostgresClient
import Testing

@testable import InletMessages

@Suite struct BodyShapeTests {
    let track = #"{"type":"track","event":"Signed Up","userId":"u1","messageId":"m1"}"#

    @Test func singleMessageObjectIsOneRow() throws {
        let batch = try parse(track)
        #expect(batch.isSingleMessage)
        #expect(batch.messageCount == 1)
        let rows = decodedRows(batch)
        #expect(rows.count == 1)
        #expect(rows[0].table == .tracks)
        #expect(rows[0].text("id") == "m1")
        #expect(rows[0].messageID == "m1")
        #expect(rows[0].int8("tenant_id") == testTenant)
    }

    @Test func bareArrayKeepsMessageOrderAndIndexes() throws {
        let body = "[\(track), {\"type\":\"identify\",\"userId\":\"u2\",\"messageId\":\"m2\"}, \(track.replacingOccurrences(of: "m1", with: "m3"))]"
        let batch = try parse(body)
        #expect(!batch.isSingleMessage)
        #expect(batch.messageCount == 3)
        let rows = decodedRows(batch)
        #expect(rows.map(\.messageIndex) == [0, 1, 2])
        #expect(rows.map(\.table) == [.tracks, .identifies, .tracks])
        #expect(rows.map(\.messageID) == ["m1", "m2", "m3"])
        #expect(batch.encoders[EventTable.tracks.rawValue].rowCount == 2)
    }

    @Test func whitespaceAroundTheBodyIsAllowed() throws {
        let batch = try parse(" \n\t[ \(track) ]\r\n ")
        #expect(batch.rows.count == 1)
    }

    @Test func emptyArrayAndEmptyBatchHaveNoMessages() throws {
        for body in ["[]", " [ ] ", #"{"batch":[]}"#, #"{"batch":[],"writeKey":"k"}"#] {
            let batch = try parse(body)
            #expect(batch.messageCount == 0)
            #expect(batch.rows.isEmpty && batch.rejects.isEmpty)
        }
    }

    @Test func envelopeMergesContextAndIntegrationsWithMessageKeysWinning() throws {
        let body = """
            {"batch":[
              {"type":"track","event":"A","userId":"u","messageId":"m1","context":{"ip":"1.2.3.4","app":"mine"}},
              {"type":"track","event":"B","userId":"u","messageId":"m2"},
              {"type":"track","event":"C","userId":"u","messageId":"m3","context":{ },"integrations":{"All":false}}
            ],
            "context":{"library":{"name":"analytics-python"},"app":"envelope"},
            "integrations":{"Amplitude":true},
            "writeKey":"secret"}
            """
        let batch = try parse(body)
        #expect(batch.writeKey == "secret")
        let rows = decodedRows(batch)
        #expect(rows.count == 3)
        #expect(rows[0].json("context") == #"{"library":{"name":"analytics-python"},"app":"envelope","ip":"1.2.3.4","app":"mine"}"#)
        #expect(rows[1].json("context") == #"{"library":{"name":"analytics-python"},"app":"envelope"}"#)
        #expect(rows[2].json("context") == #"{"library":{"name":"analytics-python"},"app":"envelope"}"#)
        #expect(rows[0].json("integrations") == #"{"Amplitude":true}"#)
        #expect(rows[2].json("integrations") == #"{"Amplitude":true,"All":false}"#)
    }

    @Test func envelopeMembersAfterALongBatchApplyToEveryMessageInOrder() throws {
        // The messages are walked before the envelope's later members are known; each element,
        // whatever it is, keeps its own index.
        var elements: [String] = []
        for k in 0..<3_000 {
            switch k % 100 {
            case 7: elements.append("[1]")
            case 8: elements.append(#"{"type":"track","x":[1 2]}"#)
            default: elements.append(#"{"type":"track","event":"E","userId":"u","messageId":"m\#(k)"}"#)
            }
        }
        let body = #"{"batch":["# + elements.joined(separator: ",") + #"],"context":{"app":"late"},"sentAt":"2024-03-05T11:00:00Z"}"#
        let batch = try parse(body)
        #expect(batch.messageCount == 3_000)
        let rows = decodedRows(batch)
        #expect(rows.count == 2_940)
        #expect(rows.allSatisfy { $0.json("context") == #"{"app":"late"}"# && $0.time("sent_at") == time(2024, 3, 5, 11) })
        #expect(rows.allSatisfy { $0.messageID == "m\($0.messageIndex)" })
        #expect(batch.rejects.count == 60)
        #expect(batch.rejects.allSatisfy { [7, 8].contains($0.messageIndex % 100) })
        #expect(batch.rejects.filter { $0.messageIndex % 100 == 7 }.allSatisfy { $0.reason == "message must be a JSON object" })
        #expect(batch.rejects.filter { $0.messageIndex % 100 == 8 }.allSatisfy { $0.reason.hasPrefix("message is not valid JSON") })
    }

    @Test func aRepeatedBatchMemberKeepsTheLastArray() throws {
        let first = #"{"type":"track","event":"A","userId":"u","messageId":"first"}"#
        let second = #"{"type":"track","event":"B","userId":"u","messageId":"second"}"#
        let batch = try parse(#"{"batch":[\#(first)],"context":{"a":1},"batch":[\#(second),\#(second)]}"#)
        #expect(batch.messageCount == 2)
        #expect(decodedRows(batch).map(\.messageID) == ["second", "second"])
        #expect(bodyError(#"{"batch":[\#(first)],"batch":5}"#)?.description == BodyError(.batchNotAnArray).description)
    }

    @Test func messageContextIsCopiedAsSentWithoutEnvelope() throws {
        let row = try onlyRow(#"{"type":"track","event":"A","userId":"u","context":{ "a" : [1, 2.5e3, null] }}"#)
        #expect(row.json("context") == #"{ "a" : [1, 2.5e3, null] }"#)
        #expect(row.isNull("integrations"))
        #expect(row.isNull("properties"))
    }

    @Test func envelopeSentAtAppliesToMessagesWithoutTheirOwn() throws {
        let body = """
            {"sentAt":"2024-03-05T11:00:00Z","batch":[
              {"type":"track","event":"A","userId":"u"},
              {"type":"track","event":"B","userId":"u","sentAt":"2024-03-05T11:30:00Z"}]}
            """
        let rows = decodedRows(try parse(body))
        #expect(rows[0].time("sent_at") == time(2024, 3, 5, 11))
        #expect(rows[1].time("sent_at") == time(2024, 3, 5, 11, 30))
    }

    @Test func writeKeyComesFromASingleMessageOrTheFirstArrayMessageWithOne() throws {
        #expect(try parse(#"{"type":"track","event":"A","userId":"u","writeKey":"k1"}"#).writeKey == "k1")
        let array = #"[{"type":"track","event":"A","userId":"u"},{"type":"track","event":"A","userId":"u","writeKey":"k2"}]"#
        #expect(try parse(array).writeKey == "k2")
        #expect(try parse(#"{"type":"track","event":"A","userId":"u"}"#).writeKey == nil)
    }

    @Test func writeKeyIsNeverStored() throws {
        let batch = try parse(#"{"type":"track","event":"A","userId":"u","writeKey":"SECRET-KEY"}"#)
        let stored = batch.encoders.flatMap(\.bytes)
        #expect(!String(decoding: stored, as: UTF8.self).contains("SECRET-KEY"))
    }

    @Test func malformedBodiesThrowBodyErrors() throws {
        let cases = ["", "   ", "{", "[", #"{"type":"#, "[{}", "nul", "[1,]", #"{"a":1}}"#, "[] []", "\u{FEFF}x", "{'a':1}"]
        for body in cases {
            let error = try #require(bodyError(body), "\(body)")
            #expect(error.isSyntaxError, "\(body): \(error)")
            #expect(error.description.hasPrefix("body is not valid JSON"))
        }
    }

    @Test func syntaxErrorsNameTheByteOffset() throws {
        let error = try #require(bodyError(#"{"type": tru}"#))
        #expect(error.description == "body is not valid JSON: invalid literal at byte 9 (expected true, false or null)")
        let other = try #require(bodyError(#"[{"a":1} x]"#))
        #expect(other.description == "body is not valid JSON: unexpected character at byte 9")
    }

    @Test func wellFormedJSONOfTheWrongShapeIsRefusedWithTheShapeMessage() throws {
        for body in [#""hello""#, "42", "null", "true"] {
            let error = try #require(bodyError(body))
            #expect(error.description == #"body must be a message object, an array of messages or {"batch": [...]}"#)
        }
        #expect(bodyError(#"{"batch":{}}"#)?.description == #""batch" must be an array of messages"#)
        #expect(bodyError(#"{"batch":[],"context":5}"#)?.description == #"the batch's "context" must be an object"#)
    }

    @Test func tooManyMessagesRefusesTheBody() throws {
        let limits = MessageLimits(maxMessagesPerBody: 3)
        let body = "[" + Array(repeating: track, count: 4).joined(separator: ",") + "]"
        #expect(bodyError(body, limits: limits)?.description == "more than 3 messages in one body")
        #expect(try parse("[" + Array(repeating: track, count: 3).joined(separator: ",") + "]", limits: limits).rows.count == 3)
        let defaultLimit = "[" + Array(repeating: "1", count: 10_001).joined(separator: ",") + "]"
        #expect(bodyError(defaultLimit)?.description == "more than 10000 messages in one body")
    }

    @Test func arrayElementThatIsNotAnObjectIsRejectedAlone() throws {
        let batch = try parse("[\(track), 42, \"x\", [1], null]")
        #expect(batch.rows.count == 1)
        #expect(batch.messageCount == 5)
        #expect(batch.rejects.map(\.messageIndex) == [1, 2, 3, 4])
        #expect(batch.rejects.allSatisfy { $0.reason == "message must be a JSON object" })
        #expect(batch.rejects[1].raw == Array(#""x""#.utf8))
    }

    @Test func syntaxErrorInsideOneMessageRejectsOnlyThatMessage() throws {
        let body = "[\(track), {\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\",\"n\": 01 }  , {\"n\": NaN}, {\"n\": +1}, {\"n\": 1.}, \(track)]"
        let batch = try parse(body)
        #expect(batch.rows.count == 2)
        #expect(batch.rejects.map(\.messageIndex) == [1, 2, 3, 4])
        #expect(batch.rejects.allSatisfy { $0.reason.hasPrefix("message is not valid JSON: ") })
        #expect(batch.rejects[0].raw == Array(#"{"type":"track","event":"x","userId":"u","n": 01 }"#.utf8))
    }

    @Test func malformedMessageInsideAnEnvelopeIsRejectedAlone() throws {
        let body = #"{"writeKey":"k","batch":[{"type":"track","event":"A","userId":"u","x":[1 2]}, \#(track)]}"#
        let batch = try parse(body)
        #expect(batch.writeKey == "k")
        #expect(batch.rows.count == 1 && batch.rows[0].messageIndex == 1)
        #expect(batch.rejects.first?.reason.hasPrefix("message is not valid JSON") == true)
        #expect(bodyError(#"{"batch":[{"a":1} {"b":2}]}"#)?.isSyntaxError == true)
    }

    @Test func leadingByteOrderMarkIsIgnored() throws {
        #expect(try parse(bytes: [0xEF, 0xBB, 0xBF] + Array(track.utf8)).rows.count == 1)
    }

    @Test func duplicateKeysInAMessageKeepTheLast() throws {
        let row = try onlyRow(#"{"type":"identify","userId":"first","userId":"last","type":"track","event":"E"}"#)
        #expect(row.table == .tracks)
        #expect(row.text("user_id") == "last")
    }

    @Test func escapedKeysAreRecognised() throws {
        let row = try onlyRow(#"{"\u0074ype":"track","event":"E","user\u0049d":"u"}"#)
        #expect(row.text("user_id") == "u")
    }

    @Test func deleteMessagesAreRequestsNotRows() throws {
        let batch = try parse(#"[{"type":"delete","userId":"gone","messageId":"d1"},{"type":"delete","anonymousId":"a"}]"#)
        #expect(batch.rows.isEmpty)
        #expect(batch.deletes == [DeleteRequest(messageIndex: 0, messageID: "d1", userID: "gone", receivedAt: arrival)])
        #expect(batch.rejects.first?.reason == #"delete needs "userId""#)
        #expect(batch.messageCount == 2)
    }

    @Test func everyRowIsEncodedWithTheTenantParsedFor() throws {
        let batch = try parse("[\(track), {\"type\":\"page\",\"userId\":\"u\"}]")
        #expect(decodedRows(batch).map { $0.int8("tenant_id") } == [testTenant, testTenant])
    }

    @Test func eachTableGetsItsOwnColumns() throws {
        let page = try onlyRow(#"{"type":"page","userId":"u","name":"Home","category":"Docs","properties":{"path":"/"}}"#)
        #expect(page.text("name") == "Home" && page.text("category") == "Docs" && page.json("properties") == #"{"path":"/"}"#)
        let screen = try onlyRow(#"{"type":"screen","anonymousId":"a","name":null}"#)
        #expect(screen.isNull("name") && screen.isNull("properties") && screen.isNull("user_id") && screen.text("anonymous_id") == "a")
        let group = try onlyRow(#"{"type":"group","userId":"u","groupId":"g","traits":{"plan":"pro"}}"#)
        #expect(group.text("group_id") == "g" && group.json("traits") == #"{"plan":"pro"}"#)
        let alias = try onlyRow(#"{"type":"alias","userId":"u","previousId":"p"}"#)
        #expect(alias.text("previous_id") == "p")
        let identify = try onlyRow(#"{"type":"identify","userId":"u","traits":{"email":"a@b.c"}}"#)
        #expect(identify.json("traits") == #"{"email":"a@b.c"}"#)
    }
}
