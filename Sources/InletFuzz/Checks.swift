import Foundation
import InletGzip
import InletMessages
import PostgresClient

/// The invariants every parse must keep, whatever the input.
///
/// - `parse` returns or throws `BodyError`; it never traps or hangs (libFuzzer's `-timeout`).
/// - Each table's encoder holds exactly its rows, back to back, in binary-COPY row layout:
///   int16 field count (= `EventTable.columns.count`), then per field int32 length and bytes,
///   -1 for NULL; `EncodedRow.byteRange` and `messageIDRange` point at them.
/// - `tenant_id` is the int8 given to `parse`.
/// - `MessageParser.writeKey(in:)`, which the server authenticates with before parsing, finds
///   exactly the `writeKey` the full parse derives.
/// - `text` fields are valid UTF-8 without NUL; NOT NULL columns are never NULL; `id` is 1...255
///   bytes.
/// - `jsonb` fields are version 1 plus a JSON object jsonb accepts: valid UTF-8, no `\u0000`, no
///   unpaired surrogate escape, numbers within `numeric`'s range, and Foundation's
///   JSONSerialization parses it.
/// - `timestamptz` fields are 8 bytes within PostgreSQL's range; `timestamp` is in the plausible
///   window (2000-01-01 ... arrival + 24 h) and equals `EncodedRow.timestamp`.
/// - Rejects, deletes and rows account for every message exactly once.
/// - A gzip input decompresses within its limit or fails with `Gunzip.Failure`; its content then
///   passes the checks above.
enum Checks {
    /// The file being replayed (replay mode), for failure messages.
    nonisolated(unsafe) static var currentInput = "<fuzz input>"

    /// A fixed arrival, so that runs are reproducible: 2025-06-15T12:00:00Z.
    static let arrival = Timestamp(microsecondsSinceUnixEpoch: 1_749_988_800_000_000)
    static let parser = MessageParser()
    static let tinyParser = MessageParser(limits: MessageLimits(maxMessageBytes: 300, maxDepth: 4, maxMessagesPerBody: 3))
    static let otherTypes: [MessageType] = [.identify, .page, .screen, .group, .alias, .delete]

    /// Decompressed-size bound for the gzip path: small, so that a bomb is cut quickly.
    static let gzipLimit = 256 * 1024

    static func run(_ body: UnsafeRawBufferPointer) {
        if body.count >= 2 && body[0] == 0x1F && body[1] == 0x8B {
            checkGzip(body)
        } else {
            checkGzipRoundTrip(body)
        }
        check(parser, body, impliedType: nil)
        check(parser, body, impliedType: .track)
        check(parser, body, impliedType: otherTypes[body.count % otherTypes.count])
        check(tinyParser, body, impliedType: nil)
    }

    /// A gzip body (it starts with gzip's magic bytes) as the routes take it: `Gunzip` returns at
    /// most `gzipLimit` bytes or throws `Failure` (never traps or hangs), and what it returns is
    /// parsed with the same checks as a plain body.
    static func checkGzip(_ body: UnsafeRawBufferPointer) {
        let inflated: [UInt8]
        do {
            inflated = try Gunzip.decompress(body, limit: gzipLimit)
        } catch {
            return
        }
        require(inflated.count <= gzipLimit, "gzip", "Gunzip returned \(inflated.count) bytes, over its limit \(gzipLimit)")
        guard !inflated.isEmpty else { return }
        inflated.withUnsafeBytes { check(parser, $0, impliedType: nil) }
    }

    /// Mutated gzip is nearly always invalid (zlib is not instrumented, so libFuzzer gets no
    /// guidance inside it); valid streams of every content come from compressing the input:
    /// it must come back whole, and cut short (at a point the input chooses) it must be refused.
    static func checkGzipRoundTrip(_ body: UnsafeRawBufferPointer) {
        let compressed = Gzip.compress(Array(body))
        let inflated = try? compressed.withUnsafeBytes { try Gunzip.decompress($0, limit: body.count) }
        require(inflated == Array(body), "gzip round trip", "Gunzip did not return what Gzip compressed")
        if body.count >= 1 {
            let cut = Int(body[0]) % compressed.count
            let truncated = try? compressed[..<cut].withUnsafeBytes { try Gunzip.decompress($0, limit: body.count) }
            require(truncated == nil, "gzip round trip", "Gunzip accepted a stream cut at \(cut) of \(compressed.count) bytes")
        }
        if body.count >= 1, let inflated, inflated.count > 0 {
            let over = try? compressed.withUnsafeBytes { try Gunzip.decompress($0, limit: inflated.count - 1) }
            require(over == nil, "gzip round trip", "Gunzip returned more than its limit")
        }
    }

    static func check(_ parser: MessageParser, _ body: UnsafeRawBufferPointer, impliedType: MessageType?) {
        let mode = "impliedType \(impliedType.map(\.rawValue) ?? "nil"), maxDepth \(parser.limits.maxDepth)"
        // Run first, on every input (also those the parse refuses): it must not trap or hang.
        let writeKey = parser.writeKey(in: body)
        let batch: ParsedBatch
        do {
            batch = try parser.parse(body, tenantID: tenant, impliedType: impliedType, arrival: arrival)
        } catch {
            // A refused body is a fine answer; its message must be printable.
            _ = "\(error)"
            return
        }
        Verifier(batch: batch, limits: parser.limits, mode: mode).verify()
        require(
            writeKey == batch.writeKey, mode,
            "writeKey(in:) found \(String(describing: writeKey)), the parse \(String(describing: batch.writeKey))")
        checkQuarantineForms(batch, parser: parser, mode: mode)
    }

    /// What the quarantine would keep: a row rebuilt as a message parses back to the same row
    /// (so a replay stores what the database refused); a refused message, redacted, carries no
    /// writeKey but "[redacted]".
    static func checkQuarantineForms(_ batch: ParsedBatch, parser: MessageParser, mode: String) {
        var relaxed = parser.limits
        relaxed.maxMessageBytes = 1 << 30  // repaired text (U+FFFD for a byte) may grow a message
        let reparser = MessageParser(limits: relaxed)
        for row in batch.rows {
            let rebuilt = batch.message(of: row)
            let original = Array(batch.encoders[row.table.rawValue].bytes[row.byteRange])
            let again = try? reparser.parse(rebuilt, tenantID: tenant, impliedType: nil, arrival: arrival)
            let againRow = again?.rows.first
            require(
                again?.rows.count == 1 && againRow?.table == row.table
                    && againRow.map { Array(again!.encoders[row.table.rawValue].bytes[$0.byteRange]) } == original,
                mode, "a rebuilt message does not parse back to its row: \(String(decoding: rebuilt, as: UTF8.self).debugDescription)")
        }
        for reject in batch.rejects {
            let redacted = CredentialRedaction.redacted(reject.raw)
            let key = redacted.withUnsafeBytes { parser.writeKey(in: $0) }
            require(key == nil || key == "[redacted]", mode, "a redacted message still has writeKey \(key ?? "")")
        }
    }

    /// The tenant every row is encoded for: eight distinct bytes, so a misplaced one shows.
    static let tenant: Int64 = 0x0102_0304_0506_0708

    static func require(_ condition: @autoclosure () -> Bool, _ mode: String, _ message: @autoclosure () -> String) {
        if !condition() {
            fatalError("InletFuzz invariant broken [\(currentInput); \(mode)]: \(message())")
        }
    }
}

private struct Verifier {
    let batch: ParsedBatch
    let limits: MessageLimits
    let mode: String

    func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        Checks.require(condition(), mode, message())
    }

    /// PostgreSQL's timestamp range, in microseconds since 2000-01-01 (MIN_TIMESTAMP, END_TIMESTAMP).
    static let pgTimestampRange: Range<Int64> = -211_813_488_000_000_000..<9_223_371_331_200_000_000
    static let earliestPlausible = Timestamp(microsecondsSinceUnixEpoch: 946_684_800_000_000)

    func verify() {
        // Every message is accounted for exactly once.
        let indexes = batch.rows.map(\.messageIndex) + batch.rejects.map(\.messageIndex) + batch.deletes.map(\.messageIndex)
        require(indexes.count == batch.messageCount, "rows+rejects+deletes = \(indexes.count), messageCount = \(batch.messageCount)")
        require(Set(indexes).count == indexes.count, "a message index appears twice: \(indexes.sorted())")
        require(indexes.allSatisfy { (0..<batch.messageCount).contains($0) }, "a message index is out of range")
        require(batch.messageCount <= limits.maxMessagesPerBody, "\(batch.messageCount) messages > maxMessagesPerBody")
        require(!batch.isSingleMessage || batch.messageCount == 1, "a single message body with \(batch.messageCount) messages")

        for reject in batch.rejects {
            require(!reject.reason.isEmpty && !reject.reason.utf8.contains(0), "reject reason empty or with NUL")
            if let id = reject.messageID { require(!id.utf8.contains(0), "reject messageID with NUL") }
            require(reject.raw.count <= RejectedMessage.maxRawBytes, "reject raw too long")
        }
        for delete in batch.deletes {
            require(!delete.messageID.isEmpty && !delete.messageID.utf8.contains(0), "delete messageID empty or with NUL")
            require(!delete.userID.isEmpty && !delete.userID.utf8.contains(0), "delete userID empty or with NUL")
            require(Self.pgTimestampRange.contains(delete.receivedAt.microsecondsSincePostgresEpoch), "delete receivedAt out of range")
        }
        if let key = batch.writeKey { require(!key.utf8.contains(0), "writeKey with NUL") }

        require(batch.encoders.count == EventTable.allCases.count, "encoders: \(batch.encoders.count)")
        for table in EventTable.allCases {
            verify(table: table)
        }
    }

    func verify(table: EventTable) {
        let encoder = batch.encoders[table.rawValue]
        let bytes = encoder.bytes
        let rows = batch.rows.filter { $0.table == table }
        require(encoder.rowCount == rows.count, "\(table.name): encoder rowCount \(encoder.rowCount), rows \(rows.count)")
        let columns = table.columnDescriptions
        var offset = 0
        var rowIndex = 0
        while offset < bytes.count {
            require(rowIndex < rows.count, "\(table.name): more encoded rows than EncodedRows")
            let row = rows[rowIndex]
            require(row.byteRange.lowerBound == offset, "\(table.name): row \(rowIndex) starts at \(offset), byteRange \(row.byteRange)")
            require(offset + 2 <= bytes.count, "\(table.name): truncated field count")
            let fieldCount = Int(Int16(bitPattern: UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])))
            require(fieldCount == columns.count, "\(table.name): field count \(fieldCount), columns \(columns.count)")
            offset += 2
            for column in columns {
                require(offset + 4 <= bytes.count, "\(table.name).\(column.name): truncated length")
                let length = Int(Int32(bitPattern: bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))
                offset += 4
                if length == -1 {
                    require(!column.notNull, "\(table.name).\(column.name) is NULL but NOT NULL")
                    continue
                }
                require(length >= 0 && offset + length <= bytes.count, "\(table.name).\(column.name): bad length \(length)")
                let field = bytes[offset..<offset + length]
                if column.name == "id" {
                    require(row.messageIDRange == offset..<offset + length, "\(table.name): messageIDRange \(row.messageIDRange) is not the id field")
                }
                verify(field: field, column: column, table: table, row: row)
                offset += length
            }
            require(row.byteRange.upperBound == offset, "\(table.name): row \(rowIndex) ends at \(offset), byteRange \(row.byteRange)")
            rowIndex += 1
        }
        require(rowIndex == rows.count, "\(table.name): \(rows.count) EncodedRows, \(rowIndex) encoded")
    }

    func verify(field: ArraySlice<UInt8>, column description: EventColumn, table: EventTable, row: EncodedRow) {
        let column = description.name
        let name = "\(table.name).\(column)"
        switch description.kind {
        case .int8:
            let value = Int64(bitPattern: field.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            require(field.count == 8 && value == Checks.tenant, "\(name): not the tenant parsed for")
        case .timestamptz:
            require(field.count == 8, "\(name): timestamptz of \(field.count) bytes")
            let value = Int64(bitPattern: field.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            require(Self.pgTimestampRange.contains(value), "\(name): \(value) µs since 2000 is outside PostgreSQL's range")
            if column == "timestamp" {
                require(value == row.timestamp.microsecondsSincePostgresEpoch, "\(name) differs from EncodedRow.timestamp")
                let unix = row.timestamp.microsecondsSinceUnixEpoch
                require(
                    row.timestamp >= Self.earliestPlausible && unix <= Checks.arrival.microsecondsSinceUnixEpoch + 86_400_000_000,
                    "\(name): \(row.timestamp) is outside the plausible window")
            }
        case .jsonb:
            require(field.first == 1, "\(name): jsonb version byte \(field.first.map(String.init) ?? "missing")")
            let text = field.dropFirst()
            require(String(validating: text, as: UTF8.self) != nil, "\(name): jsonb text is not valid UTF-8: \(Array(text))")
            switch JSONText.check(Array(text)) {
            case .failure(let problem):
                require(false, "\(name): \(problem) in jsonb \(String(decoding: text, as: UTF8.self).debugDescription)")
            case .success(let numbersZeroed):
                // Foundation cannot hold 1e400 as a Double, so numbers (checked above) are zeroed.
                let object = try? JSONSerialization.jsonObject(with: Data(numbersZeroed))
                require(object is [String: Any], "\(name): JSONSerialization refuses, or not an object: \(String(decoding: text, as: UTF8.self).debugDescription)")
            }
        case .text:
            require(String(validating: field, as: UTF8.self) != nil, "\(name): text is not valid UTF-8: \(Array(field.prefix(200)))")
            require(!field.contains(0), "\(name): text contains NUL")
            if column == "id" { require((1...255).contains(field.count), "\(name): \(field.count) bytes") }
        }
    }
}

/// What jsonb's input function refuses that Foundation's JSON parser does not check, or checks
/// differently: `\u0000`, unpaired surrogate escapes, numbers outside `numeric`.
enum JSONText {
    /// The text with every number replaced by `0`, or what is wrong with it.
    static func check(_ text: [UInt8]) -> Result<[UInt8], Problem> {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        let n = text.count
        func hex(_ at: Int) -> Int? {
            guard at + 4 <= n else { return nil }
            var v = 0
            for k in at..<at + 4 {
                guard let d = Int(String(UnicodeScalar(text[k])), radix: 16) else { return nil }
                v = v << 4 | d
            }
            return v
        }
        while i < n {
            let c = text[i]
            if c == UInt8(ascii: "\"") {
                out.append(c)
                i += 1
                while i < n, text[i] != UInt8(ascii: "\"") {
                    if text[i] == UInt8(ascii: "\\") {
                        guard i + 1 < n else { return .failure(Problem("truncated escape")) }
                        if text[i + 1] == UInt8(ascii: "u") {
                            guard let v = hex(i + 2) else { return .failure(Problem("bad \\u escape")) }
                            if v == 0 { return .failure(Problem("\\u0000")) }
                            if (0xDC00...0xDFFF).contains(v) { return .failure(Problem("lone low surrogate escape")) }
                            if (0xD800...0xDBFF).contains(v) {
                                guard i + 11 < n + 0, text[i + 6] == UInt8(ascii: "\\"), text[i + 7] == UInt8(ascii: "u"),
                                    let low = hex(i + 8), (0xDC00...0xDFFF).contains(low)
                                else { return .failure(Problem("lone high surrogate escape")) }
                                out.append(contentsOf: text[i..<i + 12])
                                i += 12
                                continue
                            }
                            out.append(contentsOf: text[i..<i + 6])
                            i += 6
                            continue
                        }
                        out.append(contentsOf: text[i...i + 1])
                        i += 2
                        continue
                    }
                    out.append(text[i])
                    i += 1
                }
                guard i < n else { return .failure(Problem("unterminated string")) }
                out.append(text[i])
                i += 1
            } else if c == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) {
                var j = i
                while j < n, "+-.eE0123456789".utf8.contains(text[j]) { j += 1 }
                if let problem = number(text[i..<j]) { return .failure(problem) }
                out.append(UInt8(ascii: "0"))
                i = j
            } else {
                out.append(c)
                i += 1
            }
        }
        return .success(out)
    }

    /// Checks RFC 8259 number syntax and PostgreSQL `numeric` input bounds (exponent within
    /// ±1000 (NUMERIC_MAX_PRECISION), at most 131072 digits before the point, 16383 after).
    static func number(_ s: ArraySlice<UInt8>) -> Problem? {
        let text = String(decoding: s, as: UTF8.self)
        var rest = Substring(text)
        if rest.first == "-" { rest = rest.dropFirst() }
        let intPart = rest.prefix { $0.isASCII && $0.isNumber }
        guard !intPart.isEmpty, intPart == "0" || intPart.first != "0" else { return Problem("bad number \(text)") }
        rest = rest.dropFirst(intPart.count)
        var fracCount = 0
        if rest.first == "." {
            rest = rest.dropFirst()
            let frac = rest.prefix { $0.isASCII && $0.isNumber }
            guard !frac.isEmpty else { return Problem("bad number \(text)") }
            fracCount = frac.count
            rest = rest.dropFirst(frac.count)
        }
        var exponent = 0
        if rest.first == "e" || rest.first == "E" {
            rest = rest.dropFirst()
            var negative = false
            if rest.first == "+" || rest.first == "-" {
                negative = rest.first == "-"
                rest = rest.dropFirst()
            }
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty else { return Problem("bad number \(text)") }
            rest = rest.dropFirst(digits.count)
            let magnitude = digits.count > 7 ? 10_000_000 : Int(digits)!
            exponent = negative ? -magnitude : magnitude
        }
        guard rest.isEmpty else { return Problem("bad number \(text)") }
        guard (-1000...1000).contains(exponent), intPart.count + exponent <= 131_072, fracCount - exponent <= 16_383 else {
            return Problem("number outside numeric: \(text.prefix(80))")
        }
        return nil
    }

    struct Problem: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
