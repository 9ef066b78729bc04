/// Builds the text form of a one-dimensional PostgreSQL array (`{"a","b",NULL}`), for passing
/// many values as one query parameter (`unnest($1::text[])`) instead of one statement per value.
///
/// Every element is double-quoted with `"` and `\` escaped, so any text (JSON included) is
/// safe. The text must be valid UTF-8 without NUL, as for any text parameter.
public struct PostgresArrayLiteral {
    private var utf8: [UInt8] = [UInt8(ascii: "{")]
    private var isEmpty = true

    public init() {}

    /// Appends an element from its text bytes.
    public mutating func append(utf8 element: some Collection<UInt8>) {
        separate()
        utf8.append(UInt8(ascii: "\""))
        for byte in element {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { utf8.append(UInt8(ascii: "\\")) }
            utf8.append(byte)
        }
        utf8.append(UInt8(ascii: "\""))
    }

    public mutating func append(_ element: String) {
        append(utf8: element.utf8)
    }

    public mutating func appendNull() {
        separate()
        utf8.append(contentsOf: "NULL".utf8)
    }

    /// The literal, ready to bind as a parameter.
    public var text: String {
        String(decoding: utf8 + [UInt8(ascii: "}")], as: UTF8.self)
    }

    private mutating func separate() {
        if !isEmpty { utf8.append(UInt8(ascii: ",")) }
        isEmpty = false
    }
}
