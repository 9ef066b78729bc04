import PostgresClient

extension ParsedBatch {
    /// The message a row was made from, rebuilt from the row as a Segment message (JSON, UTF-8):
    /// what the quarantine keeps of a message the database refused, since the request body is
    /// not kept past parsing. Parsing it again gives the same row, so it can be replayed.
    ///
    /// Each column goes back to the member it came from (``EventColumn/member``); NULLs are left
    /// out; timestamps as ISO 8601 with microseconds, in UTC.
    public func message(of row: EncodedRow) -> [UInt8] {
        let encoder = encoders[row.table.rawValue]
        var out = Array(#"{"type":""#.utf8) + Array(row.table.messageType.rawValue.utf8) + [UInt8(ascii: "\"")]
        for (index, column) in row.table.columnDescriptions.enumerated() {
            guard let member = column.member, let range = encoder.field(index, ofRowAt: row.byteRange.lowerBound) else { continue }
            let field = encoder.bytes[range]
            out.append(contentsOf: Array(",\"\(member)\":".utf8))
            switch column.kind {
            case .int8: out.append(contentsOf: Array(String(field.reduce(Int64(0)) { $0 << 8 | Int64($1) }).utf8))
            case .text: JSONString.append(field, to: &out)
            case .timestamptz:
                let postgres = Int64(bitPattern: field.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
                let timestamp = Timestamp(microsecondsSinceUnixEpoch: postgres + Timestamp.postgresEpochOffsetMicroseconds)
                out.append(contentsOf: Array("\"\(timestamp.iso8601)\"".utf8))
            case .jsonb: out.append(contentsOf: field.dropFirst())  // a version byte, then the JSON text
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// JSON string literals from UTF-8 text.
enum JSONString {
    static func append(_ text: some Collection<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
