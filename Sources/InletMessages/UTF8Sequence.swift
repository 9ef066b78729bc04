/// UTF-8 well-formedness per Unicode (no overlong forms, no surrogates, nothing above U+10FFFF).
enum UTF8Sequence {
    /// The sequence starting at `i` (whose first byte is ≥ 0x80): its length when valid, else the
    /// length of its maximal invalid subpart — the bytes one U+FFFD replaces, as Unicode
    /// recommends and as Swift's `String(decoding:as:)` does, so replacements match what a Swift
    /// client would see.
    @inline(__always)
    static func check(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> (valid: Bool, length: Int) {
        let b0 = p[i]
        if b0 < 0x80 { return (true, 1) }
        if b0 < 0xC2 { return (false, 1) }  // a stray continuation byte or an overlong 2-byte lead
        if b0 < 0xE0 {
            return i + 1 < end && p[i + 1] & 0xC0 == 0x80 ? (true, 2) : (false, 1)
        }
        if b0 < 0xF0 {
            let low: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80  // no overlong 3-byte forms
            let high: UInt8 = b0 == 0xED ? 0x9F : 0xBF  // no UTF-16 surrogates
            guard i + 1 < end, p[i + 1] >= low, p[i + 1] <= high else { return (false, 1) }
            return i + 2 < end && p[i + 2] & 0xC0 == 0x80 ? (true, 3) : (false, 2)
        }
        if b0 < 0xF5 {
            let low: UInt8 = b0 == 0xF0 ? 0x90 : 0x80  // no overlong 4-byte forms
            let high: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF  // nothing above U+10FFFF
            guard i + 1 < end, p[i + 1] >= low, p[i + 1] <= high else { return (false, 1) }
            guard i + 2 < end, p[i + 2] & 0xC0 == 0x80 else { return (false, 2) }
            return i + 3 < end && p[i + 3] & 0xC0 == 0x80 ? (true, 4) : (false, 3)
        }
        return (false, 1)
    }

    /// U+FFFD REPLACEMENT CHARACTER in UTF-8.
    static let replacement: (UInt8, UInt8, UInt8) = (0xEF, 0xBF, 0xBD)

    /// Appends `scalar` (a valid scalar value) as UTF-8.
    @inline(__always)
    static func append(scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case ..<0x80:
            out.append(UInt8(scalar))
        case ..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Appends the UTF-8 sequence at `p[i]` to `out`, or U+FFFD when it is not valid; returns the
    /// bytes consumed.
    static func appendRepairing(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int, to out: inout [UInt8]) -> Int {
        let (valid, length) = check(p, i, end)
        if valid {
            out.append(contentsOf: UnsafeRawBufferPointer(start: p + i, count: length))
        } else {
            appendReplacement(to: &out)
        }
        return length
    }

    static func appendReplacement(to out: inout [UInt8]) {
        out.append(replacement.0)
        out.append(replacement.1)
        out.append(replacement.2)
    }
}
