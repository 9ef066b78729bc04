/// A Swift value that can be sent as a statement parameter, in Postgres's text format.
///
/// Parameters always travel separately from the SQL text (`PQexecParams`), so no value needs
/// quoting or escaping. `nil` is SQL NULL.
public protocol PostgresBindable {
    var postgresParameter: String { get }
}

extension String: PostgresBindable {
    public var postgresParameter: String { self }
}

extension Substring: PostgresBindable {
    public var postgresParameter: String { String(self) }
}

extension Int: PostgresBindable {
    public var postgresParameter: String { String(self) }
}

extension Int64: PostgresBindable {
    public var postgresParameter: String { String(self) }
}

extension Int32: PostgresBindable {
    public var postgresParameter: String { String(self) }
}

extension Double: PostgresBindable {
    public var postgresParameter: String { "\(self)" }
}

extension Bool: PostgresBindable {
    public var postgresParameter: String { self ? "true" : "false" }
}

extension Timestamp: PostgresBindable {
    public var postgresParameter: String { postgresText }
}

/// Raw bytes for a `bytea` parameter.
public struct ByteaValue: PostgresBindable, Hashable, Sendable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var postgresParameter: String {
        // bytea's hex input format: \x followed by two hex digits a byte.
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var text = [UInt8](repeating: 0, count: 2 + bytes.count * 2)
        text[0] = UInt8(ascii: "\\")
        text[1] = UInt8(ascii: "x")
        for (offset, byte) in bytes.enumerated() {
            text[2 + offset * 2] = hex[Int(byte >> 4)]
            text[3 + offset * 2] = hex[Int(byte & 0x0F)]
        }
        return String(decoding: text, as: UTF8.self)
    }
}
