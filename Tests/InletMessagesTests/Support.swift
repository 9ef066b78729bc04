import PostgresClient
import Testing

@testable import InletMessages

/// 2024-03-05T12:00:00Z: every test's arrival time.
let arrival = Timestamp(.init(year: 2024, month: 3, day: 5, hour: 12))

func time(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0, micro: Int = 0) -> Timestamp {
    Timestamp(.init(year: year, month: month, day: day, hour: hour, minute: minute, second: second, microsecond: micro))
}

/// The tenant every test body is parsed for: eight distinct bytes.
let testTenant: Int64 = 0x0102_0304_0506_0708

func parse(_ body: String, implied: MessageType? = nil, limits: MessageLimits = .init()) throws(BodyError) -> ParsedBatch {
    try MessageParser(limits: limits).parse(Array(body.utf8), tenantID: testTenant, impliedType: implied, arrival: arrival)
}

func parse(bytes body: [UInt8], implied: MessageType? = nil) throws(BodyError) -> ParsedBatch {
    try MessageParser().parse(body, tenantID: testTenant, impliedType: implied, arrival: arrival)
}

/// The error `parse` throws, or nil.
func bodyError(_ body: String, implied: MessageType? = nil, limits: MessageLimits = .init()) -> BodyError? {
    do {
        _ = try parse(body, implied: implied, limits: limits)
        return nil
    } catch {
        return error
    }
}

/// One encoded row read back from the binary COPY bytes.
struct DecodedRow {
    var table: EventTable
    var messageIndex: Int
    var values: [String: [UInt8]?]
    var messageID: String

    func isNull(_ column: String) -> Bool { values[column].map { $0 == nil } ?? true }

    func text(_ column: String) -> String? {
        guard let value = values[column], let value else { return nil }
        return String(decoding: value, as: UTF8.self)
    }

    /// A jsonb column's JSON text (without the version byte).
    func json(_ column: String) -> String? {
        guard let value = values[column], let value else { return nil }
        #expect(value.first == 1, "jsonb version byte")
        return String(decoding: value.dropFirst(), as: UTF8.self)
    }

    func time(_ column: String) -> Timestamp? {
        guard let value = values[column], let value else { return nil }
        let micros = value.reduce(Int64(0)) { $0 << 8 | Int64($1) }
        return Timestamp(microsecondsSinceUnixEpoch: micros + 946_684_800_000_000)
    }

    func int8(_ column: String) -> Int64? {
        guard let value = values[column], let value else { return nil }
        return value.reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }
}

/// Reads every row of `batch` back, checking the layout on the way.
func decodedRows(_ batch: ParsedBatch) -> [DecodedRow] {
    var result: [DecodedRow] = []
    for row in batch.rows {
        let bytes = batch.encoders[row.table.rawValue].bytes
        var i = row.byteRange.lowerBound
        func int(_ width: Int) -> Int {
            defer { i += width }
            var value = 0
            for k in 0..<width { value = value << 8 | Int(bytes[i + k]) }
            // Sign-extend.
            let shift = 64 - width * 8
            return (value << shift) >> shift
        }
        let fieldCount = int(2)
        #expect(fieldCount == row.table.columns.count)
        var values: [String: [UInt8]?] = [:]
        for column in row.table.columns {
            let length = int(4)
            if length < 0 {
                values[column] = .some(nil)
            } else {
                values[column] = Array(bytes[i..<i + length])
                i += length
            }
        }
        #expect(i == row.byteRange.upperBound, "row ends where its byteRange says")
        let messageID = String(decoding: bytes[row.messageIDRange], as: UTF8.self)
        result.append(DecodedRow(table: row.table, messageIndex: row.messageIndex, values: values, messageID: messageID))
    }
    return result
}

/// The only row of a one-message body.
func onlyRow(_ body: String, implied: MessageType? = nil) throws -> DecodedRow {
    let batch = try parse(body, implied: implied)
    #expect(batch.rejects.isEmpty, "\(batch.rejects.map(\.reason))")
    return try #require(decodedRows(batch).first)
}

/// The reason the only message of `body` was refused.
func rejectReason(_ body: String, implied: MessageType? = nil) throws -> String {
    let batch = try parse(body, implied: implied)
    #expect(batch.rows.isEmpty)
    return try #require(batch.rejects.first).reason
}
