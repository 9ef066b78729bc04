/// Removes credentials from a message before it is stored or shown (the quarantine): the value
/// of every member named `writeKey` (Segment's Tracking API puts the source's token there), at
/// any depth, becomes `"[redacted]"`.
///
/// Works on bytes that may not be valid JSON (a quarantined message can be refused for its
/// syntax): a small tokenizer follows strings and their escapes, compares each member name by
/// its decoded characters (so `"write\u004bey"` is caught too), and replaces a string value that
/// follows such a name and its colon; a value of another kind (a number, an object) is replaced
/// up to the next `,` `}` or `]` at its depth.
public enum CredentialRedaction {
    /// Member names whose values are credentials, compared exactly (JSON names are case-sensitive,
    /// and Segment's is `writeKey`; `write_key` is what some hand-written clients send).
    public static let memberNames: Set<String> = ["writeKey", "write_key"]
    public static let replacement: [UInt8] = Array(#""[redacted]""#.utf8)

    public static func redacted(_ bytes: [UInt8]) -> [UInt8] {
        // Fast path: no member could be named so without a `w` or a backslash escape.
        guard bytes.contains(UInt8(ascii: "w")) || bytes.contains(UInt8(ascii: "\\")) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        let n = bytes.count
        while i < n {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\"") else {
                out.append(byte)
                i += 1
                continue
            }
            let start = i
            let end = stringEnd(bytes, from: start)
            out.append(contentsOf: bytes[start..<end])
            i = end
            // A member name is a string followed by a colon.
            var j = i
            while j < n, isSpace(bytes[j]) { j += 1 }
            guard j < n, bytes[j] == UInt8(ascii: ":"), memberNames.contains(decodedName(bytes[start..<end])) else { continue }
            // Keep the colon and the spaces around it, replace the value.
            j += 1
            while j < n, isSpace(bytes[j]) { j += 1 }
            out.append(contentsOf: bytes[i..<j])
            out.append(contentsOf: replacement)
            i = j < n && bytes[j] == UInt8(ascii: "\"") ? stringEnd(bytes, from: j) : valueEnd(bytes, from: j)
        }
        return out
    }

    /// Index just past the string starting at `start` (a quote), or the end of the bytes.
    private static func stringEnd(_ bytes: [UInt8], from start: Int) -> Int {
        var i = start + 1
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return bytes.count
    }

    /// Index of the `,` `}` or `]` that ends a non-string value at its own depth.
    private static func valueEnd(_ bytes: [UInt8], from start: Int) -> Int {
        var depth = 0
        var i = start
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\""): i = stringEnd(bytes, from: i); continue
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 0 { return i }
                depth -= 1
            case UInt8(ascii: ","): if depth == 0 { return i }
            default: break
            }
            i += 1
        }
        return bytes.count
    }

    /// The characters of a quoted name, escapes decoded (enough to compare with ASCII names),
    /// NUL removed, raw or escaped: the parser removes it from names and values (PostgreSQL
    /// cannot store it, JSONSanitizer), so `"writeKey\u0000"` is the parser's `writeKey`, and
    /// must be redacted as one.
    private static func decodedName(_ quoted: ArraySlice<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        var i = quoted.startIndex + 1
        let end = quoted.last == UInt8(ascii: "\"") && quoted.count >= 2 ? quoted.endIndex - 1 : quoted.endIndex
        while i < end {
            let byte = quoted[i]
            if byte == UInt8(ascii: "\\"), i + 1 < end {
                let escaped = quoted[i + 1]
                if escaped == UInt8(ascii: "u"), i + 6 <= end, let code = UInt32(String(decoding: quoted[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16),
                    let scalar = Unicode.Scalar(code)
                {
                    if code != 0 { scalars.append(scalar) }
                    i += 6
                } else {
                    scalars.append(Unicode.Scalar(escaped))
                    i += 2
                }
            } else {
                if byte != 0 { scalars.append(Unicode.Scalar(byte)) }
                i += 1
            }
            if scalars.count > 16 { break }  // longer than any credential name
        }
        return String(scalars)
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
