/// The slow path for values the scanner flagged: rewrites JSON so jsonb accepts it, and decodes
/// strings into the UTF-8 text a `text` column stores. Both work on bytes the scanner has already
/// validated, so they need not check syntax again.
enum JSONSanitizer {
    /// Appends the JSON text of `range` (one or more validated values or object members), changed
    /// only where Postgres would refuse it:
    /// - invalid UTF-8 in a string → U+FFFD; raw NUL and `\u0000` → removed;
    /// - a lone surrogate escape → `\ufffd`; a raw control character → its escape (`\n`, `\u001f`);
    /// - a number outside ``JSONNumberBound`` → a string of its text.
    static func appendJSON(_ p: UnsafePointer<UInt8>, _ range: Range<Int>, to out: inout [UInt8]) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let c = p[i]
            if c == JSONScanner.quote {
                i = appendString(p, i, end, to: &out)
            } else if c == UInt8(ascii: "-") || JSONEscape.isDigit(c) {
                var j = i + 1
                while j < end, isNumberByte(p[j]) { j += 1 }
                let text = UnsafeRawBufferPointer(start: p + i, count: j - i)
                if fitsNumeric(p, i, j) {
                    out.append(contentsOf: text)
                } else {
                    out.append(JSONScanner.quote)
                    out.append(contentsOf: text)
                    out.append(JSONScanner.quote)
                }
                i = j
            } else {
                // Structure, whitespace and literals: copy the run up to the next string or number.
                var j = i + 1
                while j < end, p[j] != JSONScanner.quote, p[j] != UInt8(ascii: "-"), !JSONEscape.isDigit(p[j]) { j += 1 }
                out.append(contentsOf: UnsafeRawBufferPointer(start: p + i, count: j - i))
                i = j
            }
        }
    }

    /// Appends the string whose opening quote is at `start`, repaired; returns the index after it.
    private static func appendString(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, to out: inout [UInt8]) -> Int {
        out.append(JSONScanner.quote)
        var i = start + 1
        while i < end {
            let c = p[i]
            if c == JSONScanner.quote {
                out.append(c)
                return i + 1
            }
            if c == JSONScanner.backslash {
                if p[i + 1] == UInt8(ascii: "u"), let unit = JSONEscape.hex4(p, i + 2, end) {
                    switch unit {
                    case 0:
                        break  // removed: Postgres cannot store NUL
                    case 0xD800...0xDBFF:
                        if JSONEscape.lowSurrogate(p, i + 6, end) != nil {
                            out.append(contentsOf: UnsafeRawBufferPointer(start: p + i, count: 12))
                            i += 12
                            continue
                        }
                        appendEscapedReplacement(to: &out)
                    case 0xDC00...0xDFFF:
                        appendEscapedReplacement(to: &out)
                    default:
                        out.append(contentsOf: UnsafeRawBufferPointer(start: p + i, count: 6))
                    }
                    i += 6
                } else {
                    out.append(c)
                    out.append(p[i + 1])
                    i += 2
                }
            } else if c < 0x20 {
                appendControlEscape(c, to: &out)
                i += 1
            } else if c >= 0x80 {
                i += UTF8Sequence.appendRepairing(p, i, end, to: &out)
            } else {
                var j = i + 1
                while j < end, p[j] >= 0x20, p[j] < 0x80, p[j] != JSONScanner.quote, p[j] != JSONScanner.backslash { j += 1 }
                out.append(contentsOf: UnsafeRawBufferPointer(start: p + i, count: j - i))
                i = j
            }
        }
        return i
    }

    private static func appendEscapedReplacement(to out: inout [UInt8]) {
        out.append(contentsOf: #"\ufffd"#.utf8)
    }

    private static func appendControlEscape(_ c: UInt8, to out: inout [UInt8]) {
        switch c {
        case 0: return  // NUL is removed, escaped or not
        case 0x08: out.append(contentsOf: #"\b"#.utf8)
        case 0x09: out.append(contentsOf: #"\t"#.utf8)
        case 0x0A: out.append(contentsOf: #"\n"#.utf8)
        case 0x0C: out.append(contentsOf: #"\f"#.utf8)
        case 0x0D: out.append(contentsOf: #"\r"#.utf8)
        default:
            let hex = Array("0123456789abcdef".utf8)
            out.append(contentsOf: #"\u00"#.utf8)
            out.append(hex[Int(c >> 4)])
            out.append(hex[Int(c & 0xF)])
        }
    }

    @inline(__always)
    private static func isNumberByte(_ c: UInt8) -> Bool {
        JSONEscape.isDigit(c) || c == UInt8(ascii: ".") || c | 0x20 == UInt8(ascii: "e") || c == UInt8(ascii: "+")
            || c == UInt8(ascii: "-")
    }

    /// Whether the validated number in `i..<j` is within ``JSONNumberBound``.
    static func fitsNumeric(_ p: UnsafePointer<UInt8>, _ i: Int, _ j: Int) -> Bool {
        var digits = 0
        var exponent = 0
        var inExponent = false
        for k in i..<j {
            let c = p[k]
            if c | 0x20 == UInt8(ascii: "e") {
                inExponent = true
            } else if JSONEscape.isDigit(c) {
                if inExponent {
                    if exponent <= JSONNumberBound.maxExponent { exponent = exponent * 10 + Int(c - 0x30) }
                } else {
                    digits += 1
                }
            }
        }
        return digits <= JSONNumberBound.maxDigits && exponent <= JSONNumberBound.maxExponent
    }

    // MARK: - Text

    /// Appends the text of a validated string's content (the bytes between its quotes): escapes
    /// decoded, NUL removed, invalid UTF-8 and lone surrogates replaced by U+FFFD. Control
    /// characters other than NUL are kept: `text` stores them.
    static func appendText(_ p: UnsafePointer<UInt8>, _ range: Range<Int>, to out: inout [UInt8]) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let c = p[i]
            if c == JSONScanner.backslash {
                let e = p[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let unit = JSONEscape.hex4(p, i, end) ?? 0xFFFD
                    i += 4
                    switch unit {
                    case 0:
                        break
                    case 0xD800...0xDBFF:
                        if let low = JSONEscape.lowSurrogate(p, i, end) {
                            UTF8Sequence.append(scalar: 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), to: &out)
                            i += 6
                        } else {
                            UTF8Sequence.appendReplacement(to: &out)
                        }
                    case 0xDC00...0xDFFF:
                        UTF8Sequence.appendReplacement(to: &out)
                    default:
                        UTF8Sequence.append(scalar: unit, to: &out)
                    }
                default:
                    out.append(e)  // \" \\ \/
                }
            } else if c == 0 {
                i += 1
            } else if c >= 0x80 {
                i += UTF8Sequence.appendRepairing(p, i, end, to: &out)
            } else {
                var j = i + 1
                while j < end, p[j] != 0, p[j] < 0x80, p[j] != JSONScanner.backslash { j += 1 }
                out.append(contentsOf: UnsafeRawBufferPointer(start: p + i, count: j - i))
                i = j
            }
        }
    }

    /// A value's text as a `String`, for the few places that need one (rejects, deletes, tests).
    static func string(_ p: UnsafePointer<UInt8>, _ value: ScannedValue) -> String {
        if value.kind != .string || value.isClean {
            return String(decoding: UnsafeRawBufferPointer(start: p + value.range.lowerBound, count: value.range.count), as: UTF8.self)
        }
        var out: [UInt8] = []
        appendText(p, value.range, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
