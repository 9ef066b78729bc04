/// A Swift type that a result column can be decoded into, from Postgres's text format.
public protocol PostgresDecodable {
    /// Decodes a non-NULL value; throws ``ValueDecodingFailure`` when the text does not fit.
    init(postgresText: String) throws

    /// Decodes a value that may be SQL NULL. Only `Optional` accepts NULL.
    static func decode(postgresText: String?) throws -> Self
}

/// Why a column value could not be decoded; ``Row`` adds the column name.
public struct ValueDecodingFailure: Error, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

extension PostgresDecodable {
    public static func decode(postgresText: String?) throws -> Self {
        guard let postgresText else { throw ValueDecodingFailure("unexpected NULL") }
        return try Self(postgresText: postgresText)
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public init(postgresText: String) throws {
        self = try Wrapped(postgresText: postgresText)
    }

    public static func decode(postgresText: String?) throws -> Self {
        try postgresText.map(Wrapped.init(postgresText:))
    }
}

extension String: PostgresDecodable {
    public init(postgresText: String) { self = postgresText }
}

/// Numbers decode through their own `LosslessStringConvertible` parser, which reads exactly
/// what Postgres prints for int2/int4/int8/float8.
extension PostgresDecodable where Self: LosslessStringConvertible {
    public init(postgresText: String) throws {
        guard let value = Self(postgresText) else {
            throw ValueDecodingFailure("not a \(Self.self): \(postgresText)")
        }
        self = value
    }
}

extension Int64: PostgresDecodable {}
extension Int: PostgresDecodable {}
extension Int32: PostgresDecodable {}
extension Double: PostgresDecodable {}

extension Bool: PostgresDecodable {
    public init(postgresText: String) throws {
        switch postgresText {
        case "t": self = true
        case "f": self = false
        default: throw ValueDecodingFailure("not a boolean: \(postgresText)")
        }
    }
}

extension Timestamp: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = Timestamp(parsing: postgresText) else {
            throw ValueDecodingFailure("not a timestamptz in ISO style: \(postgresText)")
        }
        self = value
    }
}

extension ByteaValue: PostgresDecodable {
    public init(postgresText: String) throws {
        // Postgres ≥ 9.0 outputs bytea as hex: \x0a1b...
        let text = Array(postgresText.utf8)
        guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x"), text.count % 2 == 0
        else { throw ValueDecodingFailure("not a hex bytea") }
        var bytes = [UInt8]()
        bytes.reserveCapacity((text.count - 2) / 2)
        var index = 2
        while index < text.count {
            guard let high = Self.nibble(text[index]), let low = Self.nibble(text[index + 1]) else {
                throw ValueDecodingFailure("not a hex bytea")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.init(bytes)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
