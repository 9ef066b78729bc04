/// The `event` column of `tracks`: the snake_case name Segment's warehouses use for an event.
///
/// Lowercase; a word boundary where a lowercase letter or digit meets an uppercase one
/// (`productViewed` → `product_viewed`) and before the last capital of a capital run followed by
/// a lowercase letter (`XMLHttpRequest` → `xml_http_request`); every run of characters that are
/// neither letters nor digits becomes one `_`; no `_` at either end. Non-ASCII letters are kept,
/// lowercased. An event with no letter or digit at all becomes `_` (the column is NOT NULL and a
/// BI tool needs something to group by).
///
/// The BI views name their columns with the same rule, key by key (`slug(_:)`).
public enum EventSlug {
    enum CharacterClass { case upper, lower, digit, other }

    /// The slug of `name`: `Order Completed` → `order_completed`, `orderId` → `order_id`.
    public static func slug(_ name: String) -> String {
        var out: [UInt8] = []
        var name = name
        name.withUTF8 { append(slugOf: UnsafeRawBufferPointer($0), to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the slug of the decoded event name `name` (valid UTF-8) to `out`.
    static func append(slugOf name: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let start = out.count
        if name.allSatisfy({ $0 < 0x80 }) {
            appendASCII(name, to: &out)
        } else {
            appendUnicode(String(decoding: name, as: UTF8.self), to: &out)
        }
        if out.count == start { out.append(UInt8(ascii: "_")) }
    }

    @inline(__always)
    static func asciiClass(_ c: UInt8) -> CharacterClass {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): .upper
        case UInt8(ascii: "a")...UInt8(ascii: "z"): .lower
        case UInt8(ascii: "0")...UInt8(ascii: "9"): .digit
        default: .other
        }
    }

    /// Whether a word starts at a character of class `current` between `previous` and `next`.
    @inline(__always)
    static func isBoundary(previous: CharacterClass, current: CharacterClass, next: CharacterClass) -> Bool {
        guard current == .upper else { return false }
        return previous == .lower || previous == .digit || (previous == .upper && next == .lower)
    }

    private static func appendASCII(_ name: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let start = out.count
        var pendingSeparator = false
        var previous = CharacterClass.other
        for k in 0..<name.count {
            let c = name[k]
            let current = asciiClass(c)
            if current == .other {
                pendingSeparator = true
            } else {
                let next = k + 1 < name.count ? asciiClass(name[k + 1]) : .other
                if isBoundary(previous: previous, current: current, next: next) { pendingSeparator = true }
                if pendingSeparator && out.count > start { out.append(UInt8(ascii: "_")) }
                pendingSeparator = false
                out.append(current == .upper ? c | 0x20 : c)
            }
            previous = current
        }
    }

    private static func unicodeClass(_ scalar: Unicode.Scalar) -> CharacterClass {
        if scalar.isASCII { return asciiClass(UInt8(scalar.value)) }
        let properties = scalar.properties
        if properties.isUppercase { return .upper }
        if properties.isAlphabetic { return .lower }  // lowercase, or a script without case
        if properties.numericType == .decimal { return .digit }
        return .other
    }

    private static func appendUnicode(_ name: String, to out: inout [UInt8]) {
        let scalars = Array(name.unicodeScalars)
        let start = out.count
        var pendingSeparator = false
        var previous = CharacterClass.other
        for k in scalars.indices {
            let scalar = scalars[k]
            let current = unicodeClass(scalar)
            if current == .other {
                pendingSeparator = true
            } else {
                let next = k + 1 < scalars.count ? unicodeClass(scalars[k + 1]) : .other
                if isBoundary(previous: previous, current: current, next: next) { pendingSeparator = true }
                if pendingSeparator && out.count > start { out.append(UInt8(ascii: "_")) }
                pendingSeparator = false
                if current == .upper {
                    out.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                } else {
                    out.append(contentsOf: String(scalar).utf8)
                }
            }
            previous = current
        }
    }
}
