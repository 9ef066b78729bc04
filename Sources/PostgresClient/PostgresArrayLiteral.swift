/// Builds the text form of a one-dimensional PostgreSQL array (`{"a","b",NULL}`), for passing
/// many values as one query parameter (`unnest($1::text[])`) instead of one statement per value.
///
/// Every element is double-quoted with `"` and `\` escaped, so any text (JSON included) is
/// safe. The text must be valid UTF-8 without NUL, as for any text parameter.
public struct PostgresArrayLiteral {
    private var utf8: [UInt8] = [UInt8(ascii: "{")]
    private var isEmpty = true

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    public init() {}

    /// An array of these elements' text forms (integers, for `$1::bigint[]`).
    public init(_ elements: some Sequence<some CustomStringConvertible>) {
        for element in elements { append(element.description) }
    }

    /// Appends an element from its text bytes.
    public mutating func append(utf8 element: UnsafeRawBufferPointer) {
        separate()
        utf8.append(Self.quote)
        // Copied in runs between the bytes to escape (a byte loop through a generic collection
        // cost a writer more than the rest of its work in `perf`).
        var runStart = 0
        for index in element.indices where element[index] == Self.quote || element[index] == Self.backslash {
            utf8.append(contentsOf: UnsafeRawBufferPointer(rebasing: element[runStart..<index]))
            utf8.append(Self.backslash)
            runStart = index
        }
        utf8.append(contentsOf: UnsafeRawBufferPointer(rebasing: element[runStart...]))
        utf8.append(Self.quote)
    }

    public mutating func append(utf8 element: ArraySlice<UInt8>) {
        element.withUnsafeBytes { append(utf8: $0) }
    }

    public mutating func append(_ element: String) {
        var element = element
        element.withUTF8 { append(utf8: UnsafeRawBufferPointer($0)) }
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
