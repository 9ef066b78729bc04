/// What scanning learnt about a value's bytes, so that clean values (nearly all of them) are
/// copied as they are and only the rest is rewritten.
struct ValueFlags: OptionSet, Sendable {
    let rawValue: UInt8

    /// A string holds a backslash escape: as text it must be decoded.
    static let hasEscapes = ValueFlags(rawValue: 1)
    /// Something Postgres would refuse: invalid UTF-8, a NUL (raw or `\u0000`), a lone UTF-16
    /// surrogate escape, a raw control character, a number `numeric` cannot hold.
    static let needsRewrite = ValueFlags(rawValue: 2)
}

enum ValueKind: UInt8, Sendable {
    case string, number, object, array, `true`, `false`, null
}

/// A value found in the body. For a string, `range` is its content between the quotes; for
/// anything else, the value's whole text.
struct ScannedValue: Sendable {
    var kind: ValueKind
    var range: Range<Int>
    var flags: ValueFlags

    var isNull: Bool { kind == .null }
    /// Clean bytes can go to a column as they are.
    var isClean: Bool { flags.isEmpty }
}

/// Numbers jsonb's `numeric` can hold.
///
/// Postgres refuses a numeric literal whose exponent is beyond ±1000, and the value must fit
/// its digit limits; Inlet's documented bound is an exponent of at most ±1000 as written and at
/// most 1000 digits. A number outside it is stored as a JSON string of its text instead.
enum JSONNumberBound {
    static let maxExponent = 1000
    static let maxDigits = 1000
}

/// A validating JSON scanner over the request body's bytes.
///
/// It checks RFC 8259 syntax strictly (so `NaN`, `+1`, `01` and `1.` are errors) except for what
/// Inlet repairs instead of refusing — raw control characters and invalid UTF-8 inside strings —
/// and records such things in ``flags``. Containers are walked with an explicit stack bounded by
/// the depth limit, never by recursion, so no input can exhaust the thread's stack.
struct JSONScanner {
    let bytes: UnsafePointer<UInt8>
    let count: Int
    let maxDepth: Int
    /// One byte per open container (`{` or `[`); `maxDepth + 1` bytes.
    let stack: UnsafeMutablePointer<UInt8>
    /// Accumulated over every string and number scanned since the caller last reset it.
    var flags: ValueFlags = []

    // ASCII codes used below.
    static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C, comma: UInt8 = 0x2C, colon: UInt8 = 0x3A
    static let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D
    static let openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D

    @inline(__always)
    func skipWhitespace(_ start: Int) -> Int {
        var i = start
        while i < count {
            let c = bytes[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { break }
            i += 1
        }
        return i
    }

    /// Scans the value starting at `start` (not whitespace) whose depth, if it is a container,
    /// is `depth`. Returns its kind and the index after it.
    mutating func scanValue(_ start: Int, depth: Int) throws(JSONSyntaxError) -> (ValueKind, Int) {
        guard start < count else { throw JSONSyntaxError(.unexpectedEnd, at: start) }
        switch bytes[start] {
        case Self.openBrace: return (.object, try scanContainer(start, depth: depth))
        case Self.openBracket: return (.array, try scanContainer(start, depth: depth))
        default: return try scanScalar(start)
        }
    }

    @inline(__always)
    mutating func scanScalar(_ start: Int) throws(JSONSyntaxError) -> (ValueKind, Int) {
        switch bytes[start] {
        case Self.quote: return (.string, try scanString(start))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return (.number, try scanNumber(start))
        case UInt8(ascii: "t"): return (.true, try scanLiteral(start, "true"))
        case UInt8(ascii: "f"): return (.false, try scanLiteral(start, "false"))
        case UInt8(ascii: "n"): return (.null, try scanLiteral(start, "null"))
        default: throw JSONSyntaxError(.unexpectedCharacter, at: start)
        }
    }

    private func scanLiteral(_ start: Int, _ literal: StaticString) throws(JSONSyntaxError) -> Int {
        let length = literal.utf8CodeUnitCount
        guard start + length <= count else { throw JSONSyntaxError(.invalidLiteral, at: start) }
        let expected = literal.utf8Start
        for k in 1..<length where bytes[start + k] != expected[k] {
            throw JSONSyntaxError(.invalidLiteral, at: start)
        }
        return start + length
    }

    /// Walks the object or array at `start` and everything inside it, iteratively.
    mutating func scanContainer(_ start: Int, depth: Int) throws(JSONSyntaxError) -> Int {
        var i = start
        var top = 0  // open containers on `stack`
        while true {
            // At the first byte of a value.
            let c = bytes[i]
            if c == Self.openBrace || c == Self.openBracket {
                guard depth + top <= maxDepth else { throw JSONSyntaxError(.tooDeep(limit: maxDepth), at: i) }
                stack[top] = c
                top += 1
                i = skipWhitespace(i + 1)
                guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }
                if bytes[i] == c &+ 2 {  // `}` is `{` + 2 and `]` is `[` + 2
                    i += 1
                    top -= 1
                } else {
                    if c == Self.openBrace { i = try scanKeyAndColon(i) }
                    continue
                }
            } else {
                i = try scanScalar(i).1
            }
            // After a value: a comma and the next value, or the end of the container.
            afterValue: while true {
                if top == 0 { return i }
                i = skipWhitespace(i)
                guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }
                let d = bytes[i]
                let open = stack[top - 1]
                if d == Self.comma {
                    i = skipWhitespace(i + 1)
                    guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }
                    if open == Self.openBrace { i = try scanKeyAndColon(i) }
                    break afterValue
                } else if d == open &+ 2 {
                    i += 1
                    top -= 1
                } else {
                    throw JSONSyntaxError(.unexpectedCharacter, at: i)
                }
            }
        }
    }

    /// Scans `"key"`, whitespace, `:` and whitespace; returns the index of the value.
    @inline(__always)
    mutating func scanKeyAndColon(_ start: Int) throws(JSONSyntaxError) -> Int {
        guard bytes[start] == Self.quote else { throw JSONSyntaxError(.unexpectedCharacter, at: start) }
        var i = skipWhitespace(try scanString(start))
        guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }
        guard bytes[i] == Self.colon else { throw JSONSyntaxError(.unexpectedCharacter, at: i) }
        i = skipWhitespace(i + 1)
        guard i < count else { throw JSONSyntaxError(.unexpectedEnd, at: i) }
        return i
    }

    /// Scans the string whose opening quote is at `start`; returns the index after its closing quote.
    mutating func scanString(_ start: Int) throws(JSONSyntaxError) -> Int {
        var i = start + 1
        while true {
            // Eight bytes at a time while none is a quote, a backslash, a control character or
            // non-ASCII (the classic SWAR has-zero-byte tests): most strings are plain ASCII.
            while i + 8 <= count {
                let word = UnsafeRawPointer(bytes + i).loadUnaligned(as: UInt64.self)
                let high: UInt64 = 0x8080_8080_8080_8080
                let ones: UInt64 = 0x0101_0101_0101_0101
                let quotes = word ^ (ones &* 0x22)
                let backslashes = word ^ (ones &* 0x5C)
                let special =
                    (word | ((word &- ones &* 0x20) & ~word))
                    | ((quotes &- ones) & ~quotes)
                    | ((backslashes &- ones) & ~backslashes)
                if special & high != 0 { break }
                i += 8
            }
            while i < count {
                let c = bytes[i]
                if c == Self.quote || c == Self.backslash || c < 0x20 || c >= 0x80 { break }
                i += 1
            }
            guard i < count else { throw JSONSyntaxError(.unterminatedString, at: start) }
            let c = bytes[i]
            if c == Self.quote { return i + 1 }
            if c == Self.backslash {
                i = try scanEscape(i, stringStart: start)
            } else if c < 0x20 {
                // Invalid JSON, but a message is not refused for it: rewritten as an escape.
                flags.insert(.needsRewrite)
                i += 1
            } else {
                let (valid, length) = UTF8Sequence.check(bytes, i, count)
                if !valid { flags.insert(.needsRewrite) }
                i += length
            }
        }
    }

    /// Checks the escape at `start` (a backslash); returns the index after it.
    @inline(__always)
    private mutating func scanEscape(_ start: Int, stringStart: Int) throws(JSONSyntaxError) -> Int {
        guard start + 1 < count else { throw JSONSyntaxError(.unterminatedString, at: stringStart) }
        flags.insert(.hasEscapes)
        switch bytes[start + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return start + 2
        case UInt8(ascii: "u"):
            guard let unit = JSONEscape.hex4(bytes, start + 2, count) else {
                throw JSONSyntaxError(.invalidEscape, at: start)
            }
            switch unit {
            case 0:
                flags.insert(.needsRewrite)  // jsonb refuses \u0000
            case 0xD800...0xDBFF:
                if JSONEscape.lowSurrogate(bytes, start + 6, count) != nil { return start + 12 }
                flags.insert(.needsRewrite)  // a lone high surrogate: jsonb refuses it
            case 0xDC00...0xDFFF:
                flags.insert(.needsRewrite)  // a lone low surrogate
            default:
                break
            }
            return start + 6
        default:
            throw JSONSyntaxError(.invalidEscape, at: start)
        }
    }

    /// Scans the number at `start` (RFC 8259 grammar); returns the index after it.
    mutating func scanNumber(_ start: Int) throws(JSONSyntaxError) -> Int {
        var i = start
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < count, JSONEscape.isDigit(bytes[i]) else { throw JSONSyntaxError(.invalidNumber, at: start) }
        var digits = 0
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
            digits = 1
            // A leading zero is followed by at most a fraction or an exponent ("01" is not JSON).
            if i < count, JSONEscape.isDigit(bytes[i]) { throw JSONSyntaxError(.invalidNumber, at: start) }
        } else {
            while i < count, JSONEscape.isDigit(bytes[i]) {
                i += 1
                digits += 1
            }
        }
        if i < count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < count, JSONEscape.isDigit(bytes[i]) else { throw JSONSyntaxError(.invalidNumber, at: start) }
            while i < count, JSONEscape.isDigit(bytes[i]) {
                i += 1
                digits += 1
            }
        }
        var exponent = 0
        if i < count, bytes[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < count, JSONEscape.isDigit(bytes[i]) else { throw JSONSyntaxError(.invalidNumber, at: start) }
            while i < count, JSONEscape.isDigit(bytes[i]) {
                if exponent <= JSONNumberBound.maxExponent { exponent = exponent * 10 + Int(bytes[i] &- 0x30) }
                i += 1
            }
        }
        if digits > JSONNumberBound.maxDigits || exponent > JSONNumberBound.maxExponent {
            flags.insert(.needsRewrite)
        }
        // A letter or another number character right after ("1x", "1.2.3") is not JSON; the
        // caller sees it as an unexpected character where it expects `,` or a closing bracket.
        return i
    }

    // MARK: - Lenient skipping

    /// The end of the array element starting at `start`, found by bracket counting alone — for
    /// an element that is not valid JSON, so that it can be refused alone and the rest of the
    /// batch kept. Returns the index of the `,` or closing bracket after the element (trailing
    /// whitespace not included in the element), or nil when the body ends first.
    func skipElementLeniently(_ start: Int) -> Int? {
        var i = start
        var depth = 0
        while i < count {
            switch bytes[i] {
            case Self.quote:
                guard let end = skipStringLeniently(i) else { return nil }
                i = end
                continue
            case Self.openBrace, Self.openBracket:
                depth += 1
            case Self.closeBrace, Self.closeBracket:
                if depth == 0 { return i }
                depth -= 1
            case Self.comma:
                if depth == 0 { return i }
            default:
                break
            }
            i += 1
        }
        return nil
    }

    private func skipStringLeniently(_ start: Int) -> Int? {
        var i = start + 1
        while i < count {
            let c = bytes[i]
            if c == Self.quote { return i + 1 }
            i += c == Self.backslash ? 2 : 1
        }
        return nil
    }

    /// The element's bytes without trailing whitespace.
    func trimmingTrailingWhitespace(_ range: Range<Int>) -> Range<Int> {
        var end = range.upperBound
        while end > range.lowerBound {
            let c = bytes[end - 1]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { break }
            end -= 1
        }
        return range.lowerBound..<end
    }
}

/// Small helpers for escapes and digits shared by the scanner and the rewriters.
enum JSONEscape {
    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - 0x30)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(c - 0x61 + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(c - 0x41 + 10)
        default: nil
        }
    }

    /// The code unit of the four hex digits at `i`, or nil.
    @inline(__always)
    static func hex4(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> UInt32? {
        guard i + 4 <= end, let a = hexValue(p[i]), let b = hexValue(p[i + 1]), let c = hexValue(p[i + 2]),
            let d = hexValue(p[i + 3])
        else { return nil }
        return a << 12 | b << 8 | c << 4 | d
    }

    /// The low surrogate escaped at `i` (`\uDC00`–`\uDFFF`), if there is one.
    @inline(__always)
    static func lowSurrogate(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> UInt32? {
        guard i + 6 <= end, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u"),
            let unit = hex4(p, i + 2, end), (0xDC00...0xDFFF).contains(unit)
        else { return nil }
        return unit
    }
}
