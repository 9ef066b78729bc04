import PostgresClient
import Testing

@testable import InletMessages

@Suite struct TimestampTests {
    func iso(_ text: String) -> Timestamp? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { ISO8601.parse($0.baseAddress!, 0..<$0.count) }
    }

    @Test func parsesTheFormsSegmentSends() {
        #expect(iso("2024-03-05T07:08:09.123Z") == time(2024, 3, 5, 7, 8, 9, micro: 123_000))
        #expect(iso("2024-03-05T07:08:09Z") == time(2024, 3, 5, 7, 8, 9))
        #expect(iso("2024-03-05 07:08:09.5+02:00") == time(2024, 3, 5, 5, 8, 9, micro: 500_000))
        #expect(iso("2024-03-05T07:08:09-0130") == time(2024, 3, 5, 8, 38, 9))
        #expect(iso("2024-03-05T07:08:09+02") == time(2024, 3, 5, 5, 8, 9))
        #expect(iso("2024-03-05T07:08:09.123456789Z") == time(2024, 3, 5, 7, 8, 9, micro: 123_456))
        #expect(iso("2024-03-05T07:08:09.1234567Z") == time(2024, 3, 5, 7, 8, 9, micro: 123_456))
        #expect(iso("2024-03-05T07:08Z") == time(2024, 3, 5, 7, 8))
        #expect(iso("2024-03-05T07:08:09") == time(2024, 3, 5, 7, 8, 9))  // no offset: UTC
        #expect(iso("2024-02-29T00:00:00Z") == time(2024, 2, 29))
        #expect(iso("0000-01-01T00:00:00Z") == time(0, 1, 1))
        #expect(iso("9999-12-31T23:59:59.999999Z") == time(9999, 12, 31, 23, 59, 59, micro: 999_999))
        #expect(iso("2016-12-31T23:59:60Z") == time(2017, 1, 1))  // leap second
    }

    @Test func refusesWhatIsNotATimestamp() {
        for text in [
            "", "2024", "2024-03-05", "2024-3-5T07:08:09Z", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-03-05T24:00:00Z",
            "2024-03-05T07:60:00Z", "2024-03-05T07:08:09.Z", "2024-03-05T07:08:09ZZ", "2024-03-05X07:08:09Z",
            "12024-03-05T07:08:09Z", "2024-03-05T07:08:09+2", "2024-03-05T07:08:09+24:00", "yesterday at noon",
        ] {
            #expect(iso(text) == nil, "\(text)")
        }
    }

    func row(_ members: String) throws -> DecodedRow {
        try onlyRow(#"{"type":"track","event":"E","userId":"u"\#(members)}"#)
    }

    @Test func withoutTimesEverythingIsTheArrival() throws {
        let stored = try row("")
        #expect(stored.time("timestamp") == arrival)
        #expect(stored.time("received_at") == arrival)
        #expect(stored.isNull("original_timestamp") && stored.isNull("sent_at"))
    }

    @Test func receivedAtFromTheMessageWhenItParses() throws {
        #expect(try row(#","receivedAt":"2024-03-05T11:00:00Z""#).time("received_at") == time(2024, 3, 5, 11))
        #expect(try row(#","receivedAt":"garbage""#).time("received_at") == arrival)
    }

    @Test func timestampFieldWinsWhenItParses() throws {
        let stored = try row(#","timestamp":"2024-03-01T10:00:00Z","originalTimestamp":"2024-03-01T09:00:00Z","sentAt":"2024-03-01T09:30:00Z""#)
        #expect(stored.time("timestamp") == time(2024, 3, 1, 10))
        #expect(stored.time("original_timestamp") == time(2024, 3, 1, 9))
        #expect(stored.time("sent_at") == time(2024, 3, 1, 9, 30))
    }

    @Test func skewCorrectionUsesReceivedMinusSentPlusOriginal() throws {
        // The device clock is 2 h behind: sent "09:00", really received at 12:00 (the arrival).
        let stored = try row(#","originalTimestamp":"2024-03-05T08:59:00Z","sentAt":"2024-03-05T09:00:00Z""#)
        #expect(stored.time("timestamp") == time(2024, 3, 5, 11, 59))
        #expect(stored.time("original_timestamp") == time(2024, 3, 5, 8, 59))
        let withReceived = try row(
            #","originalTimestamp":"2024-03-05T08:59:00Z","sentAt":"2024-03-05T09:00:00Z","receivedAt":"2024-03-05T10:00:00Z""#)
        #expect(withReceived.time("timestamp") == time(2024, 3, 5, 9, 59))
    }

    @Test func skewCorrectionUsesTheEnvelopeSentAt() throws {
        let body = #"{"sentAt":"2024-03-05T09:00:00Z","batch":[{"type":"track","event":"E","userId":"u","originalTimestamp":"2024-03-05T08:00:00Z"}]}"#
        #expect(decodedRows(try parse(body)).first?.time("timestamp") == time(2024, 3, 5, 11))
    }

    @Test func originalTimestampAloneIsTheTimestamp() throws {
        #expect(try row(#","originalTimestamp":"2024-03-04T08:00:00Z""#).time("timestamp") == time(2024, 3, 4, 8))
    }

    @Test func unparseableTimestampIsAbsentNotRejected() throws {
        let stored = try row(#","timestamp":"not a time","originalTimestamp":12,"sentAt":"2024-99-01T00:00:00Z""#)
        #expect(stored.time("timestamp") == arrival)
        #expect(stored.isNull("original_timestamp") && stored.isNull("sent_at"))
    }

    @Test func absurdTimestampsAreReplacedByTheArrivalAndKeptAsOriginal() throws {
        let old = try row(#","timestamp":"1970-01-01T00:00:00Z""#)
        #expect(old.time("timestamp") == arrival)
        #expect(old.time("original_timestamp") == time(1970, 1, 1))
        let future = try row(#","timestamp":"2024-03-06T12:00:01Z""#)
        #expect(future.time("timestamp") == arrival)
        #expect(future.time("original_timestamp") == time(2024, 3, 6, 12, 0, 1))
        let edge = try row(#","timestamp":"2024-03-06T12:00:00Z""#)
        #expect(edge.time("timestamp") == time(2024, 3, 6, 12))
        let earliest = try row(#","timestamp":"2000-01-01T00:00:00Z""#)
        #expect(earliest.time("timestamp") == time(2000, 1, 1))
        let year9999 = try row(#","originalTimestamp":"9999-01-01T00:00:00Z""#)
        #expect(year9999.time("timestamp") == arrival && year9999.time("original_timestamp") == time(9999, 1, 1))
    }
}

@Suite struct EventSlugTests {
    func slug(_ name: String) -> String {
        var out: [UInt8] = []
        var name = name
        name.withUTF8 { EventSlug.append(slugOf: UnsafeRawBufferPointer($0), to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func matchesSegmentWarehouseNames() {
        #expect(slug("Signed Up") == "signed_up")
        #expect(slug("Order Completed!") == "order_completed")
        #expect(slug("CTA Clicked") == "cta_clicked")
        #expect(slug("productViewed") == "product_viewed")
        #expect(slug("XMLHttpRequest") == "xml_http_request")
        #expect(slug("already_snake_case") == "already_snake_case")
        #expect(slug("  --Hello,   World--  ") == "hello_world")
        #expect(slug("Step 2 Done") == "step_2_done")
        #expect(slug("v2Launch") == "v2_launch")
        #expect(slug("page.viewed/home") == "page_viewed_home")
    }

    @Test func keepsNonASCIILettersLowercased() {
        #expect(slug("Über Café") == "über_café")
        #expect(slug("ÉtéChaud") == "été_chaud")
        #expect(slug("注文 完了") == "注文_完了")
        #expect(slug("Ωmega 😀 Done") == "ωmega_done")
    }

    @Test func emptySlugIsUnderscore() {
        #expect(slug("!!!") == "_")
        #expect(slug("😀") == "_")
        #expect(slug("") == "_")
    }

    @Test func trackRowsCarryBothSlugAndName() throws {
        let stored = try onlyRow(#"{"type":"track","event":"Order Completed!","userId":"u"}"#)
        #expect(stored.text("event") == "order_completed")
        #expect(stored.text("event_text") == "Order Completed!")
    }
}
